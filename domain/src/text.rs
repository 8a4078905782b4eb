//! Text folding for search: "Crédito" and "credito" are the same word to someone typing in a
//! search box. Stored search columns and the searched-for text go through the same [`fold`],
//! so PostgreSQL compares folded text and needs no `unaccent` extension.

/// Lower case without diacritics: `"Ñandú CRÉDITO"` → `"nandu credito"`. Covers the Latin
/// letters of Spanish, Portuguese, French and German names; other characters are lower-cased.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' | 'å' | 'ā' => 'a',
            'é' | 'è' | 'ë' | 'ê' | 'ē' => 'e',
            'í' | 'ì' | 'ï' | 'î' | 'ī' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' | 'ø' | 'ō' => 'o',
            'ú' | 'ù' | 'ü' | 'û' | 'ū' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            'ý' | 'ÿ' => 'y',
            other => other,
        };
        out.push(plain);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_and_case_fold_away() {
        assert_eq!(fold("Crédito"), "credito");
        assert_eq!(fold("ÑANDÚ Pingüino"), "nandu pinguino");
        assert_eq!(fold("Gastos en general."), "gastos en general.");
        assert_eq!(fold("MÉXICO 64000"), "mexico 64000");
    }
}
