//! The embedded fonts, text measurement and line breaking.
//!
//! Glyphs are placed here, one per character with the font's advance width (no kerning, no
//! ligatures: DejaVu needs neither for Spanish), and the same glyphs are handed to krilla.
//! Measuring and drawing therefore agree exactly, which the right-aligned amount columns need,
//! and krilla's shaping engine (rustybuzz) stays out of the build.

use std::sync::{Arc, LazyLock};

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

/// DejaVu (Bitstream Vera license, `api/assets/fonts/LICENSE`): it covers every Spanish
/// character, « » – € included. krilla embeds only the glyphs a document uses.
const SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const SANS_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
const MONO: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");

/// One font: krilla's handle for drawing and skrifa's tables for measuring.
pub(super) struct Face {
    pub pdf: Font,
    charmap: skrifa::charmap::Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
}

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Face").finish_non_exhaustive()
    }
}

impl Face {
    fn load(data: &'static [u8]) -> Option<Self> {
        let skrifa = FontRef::new(data).ok()?;
        let shared: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(data);
        Some(Self {
            pdf: Font::new(shared.into(), 0)?,
            charmap: skrifa.charmap(),
            metrics: skrifa.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em: f32::from(
                skrifa
                    .metrics(Size::unscaled(), LocationRef::default())
                    .units_per_em,
            ),
        })
    }

    fn glyph(&self, c: char) -> (GlyphId, f32) {
        // A character the font lacks prints as .notdef (glyph 0) rather than vanishing.
        let id = self.charmap.map(c).unwrap_or_default();
        let advance = self.metrics.advance_width(id).unwrap_or(0.0) / self.units_per_em;
        (GlyphId::new(id.to_u32()), advance)
    }

    /// Width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).1).sum::<f32>() * size
    }

    /// The glyphs of `text`, each covering its character's bytes so the PDF's text layer (what
    /// copy-paste and `pdftotext` read) is `text` itself.
    pub fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(start, c)| {
                let (id, advance) = self.glyph(c);
                KrillaGlyph::new(
                    id,
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    start..start + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }
}

/// The three faces the printout uses.
#[derive(Debug)]
pub(super) struct Fonts {
    pub regular: Face,
    pub bold: Face,
    pub mono: Face,
}

/// Parsed once per process: krilla hashes a font's bytes when it loads it.
static FONTS: LazyLock<Option<Fonts>> = LazyLock::new(|| {
    Some(Fonts {
        regular: Face::load(SANS)?,
        bold: Face::load(SANS_BOLD)?,
        mono: Face::load(MONO)?,
    })
});

/// The embedded fonts; `None` only if the bytes compiled in were damaged (a test loads them).
pub(super) fn fonts() -> Option<&'static Fonts> {
    FONTS.as_ref()
}

/// Greedy word wrapping of `text` into lines no wider than `width`. Line breaks in the text
/// are kept; a word wider than a line is cut between characters.
pub(super) fn wrap(face: &Face, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if face.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if face.width(word, size) <= width {
                line = word.to_owned();
            } else {
                let mut pieces = break_chars(face, word, size, width);
                line = pieces.pop().unwrap_or_default();
                lines.extend(pieces);
            }
        }
        lines.push(line);
    }
    lines
}

/// Cuts `text` between characters into lines no wider than `width` (for seals and cadenas,
/// which have no spaces to break at).
pub(super) fn break_chars(face: &Face, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0.0;
    for c in text.chars() {
        let w = face.glyph(c).1 * size;
        if line_width + w > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line_width = 0.0;
        }
        line.push(c);
        line_width += w;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` cut to fit `width`, ending in "…" when cut (for single-line cells).
pub(super) fn ellipsize(face: &Face, text: &str, size: f32, width: f32) -> String {
    if face.width(text, size) <= width {
        return text.to_owned();
    }
    let ellipsis = face.width("…", size);
    let mut out = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        let w = face.glyph(c).1 * size;
        if used + w + ellipsis > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fonts_load_and_cover_spanish() {
        let fonts = fonts().unwrap();
        for face in [&fonts.regular, &fonts.bold, &fonts.mono] {
            for c in "áéíóúüñÑ¿¡«»–€ÁÉÍÓÚÜ".chars() {
                assert_ne!(face.glyph(c).0.to_u32(), 0, "{c} missing");
            }
        }
        let mono = &fonts.mono;
        assert!((mono.width("iiii", 10.0) - mono.width("MMMM", 10.0)).abs() < 1e-3);
    }

    #[test]
    fn wrapping_respects_the_width() {
        let face = &fonts().unwrap().regular;
        let text = "Servicio de consultoría en sistemas de facturación electrónica \
                    con un identificador larguísimo ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let lines = wrap(face, text, 8.0, 90.0);
        assert!(lines.len() > 3);
        for line in &lines {
            assert!(face.width(line, 8.0) <= 90.0, "{line:?}");
        }
        assert_eq!(
            lines.join(" ").replace(' ', ""),
            text.replace(' ', ""),
            "nothing lost"
        );
        assert_eq!(wrap(face, "uno\ndos", 8.0, 200.0), vec!["uno", "dos"]);
        assert_eq!(wrap(face, "", 8.0, 200.0), vec![""]);
        let cut = ellipsize(face, text, 8.0, 60.0);
        assert!(cut.ends_with('…') && face.width(&cut, 8.0) <= 60.0);
    }
}
