//! Reading PDFs back as a person or a phone would: their text with poppler's `pdftotext`, and
//! the QR codes of a page rendered by `pdftoppm` (Debian's `poppler-utils`), decoded by rqrr.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use std::io::Write;
use std::process::Command;

/// Runs `name` on the PDF; `after` follows the file's path (pdftotext's `-` for standard output;
/// pdftoppm writes there without one).
fn run(name: &str, args: &[&str], pdf: &[u8], after: &[&str]) -> Vec<u8> {
    let mut file = tempfile::Builder::new().suffix(".pdf").tempfile().unwrap();
    file.write_all(pdf).unwrap();
    let out = Command::new(name)
        .args(args)
        .arg(file.path())
        .args(after)
        .output()
        .unwrap_or_else(|e| panic!("{name} is needed (apt-get install poppler-utils): {e}"));
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The PDF's text, pages separated by form feeds.
pub fn text(pdf: &[u8]) -> String {
    String::from_utf8(run("pdftotext", &[], pdf, &["-"])).unwrap()
}

/// The contents of every QR code on page `page` (rendered at 150 dpi).
pub fn qr_codes(pdf: &[u8], page: usize) -> Vec<String> {
    let p = page.to_string();
    let pgm = run(
        "pdftoppm",
        &["-gray", "-r", "150", "-f", &p, "-l", &p],
        pdf,
        &[],
    );
    let (w, h, pixels) = parse_pgm(&pgm);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    image
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().unwrap().1)
        .collect()
}

/// A binary PGM (`P5`): width, height and maximum after the magic, one whitespace byte, then
/// the pixels (pdftoppm writes no comments).
fn parse_pgm(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    assert_eq!(&bytes[..2], b"P5", "not a binary PGM");
    let mut fields = Vec::new();
    let mut i = 2;
    while fields.len() < 3 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(
            std::str::from_utf8(&bytes[start..i])
                .unwrap()
                .parse::<usize>()
                .unwrap(),
        );
    }
    let (w, h) = (fields[0], fields[1]);
    (w, h, bytes[i + 1..i + 1 + w * h].to_vec())
}
