//! The organization's branding, printed on its invoice PDFs and emails: the rules of its
//! accent colour, its footer and its logo.
//!
//! A logo is checked by decoding it, never by its name or declared media type: the bytes
//! must decode completely as the format declared, within [`MAX_LOGO_SIDE`] pixels a side. The
//! decoder's limits are set before it reads past the header, so an image that claims huge
//! dimensions (a decompression bomb) is refused without allocating for it.

use std::io::Cursor;

use image::{ImageError, ImageFormat, ImageReader, Limits};

use crate::fields;
use crate::validation::{Pointer, Violation, Violations};

/// Largest logo accepted, in bytes (1 MiB).
pub const MAX_LOGO_BYTES: usize = 1024 * 1024;
/// Largest width and height of a logo, in pixels.
pub const MAX_LOGO_SIDE: u32 = 4096;
/// Longest footer, in characters.
pub const MAX_FOOTER_CHARS: usize = 300;
/// Most memory the decoder may take for one logo: a 4096 x 4096 RGBA image at 8 bits a
/// channel. Larger (16-bit) images of that size are refused as too large.
const MAX_DECODE_BYTES: u64 = MAX_LOGO_SIDE as u64 * MAX_LOGO_SIDE as u64 * 4;

/// The formats a logo may have: what PDFs and email clients all show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoFormat {
    Png,
    Jpeg,
}

impl LogoFormat {
    /// Every accepted media type.
    pub const MEDIA_TYPES: [&'static str; 2] = ["image/png", "image/jpeg"];

    /// The format of a media type (`image/png`, case-insensitive, without parameters).
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type.trim().to_ascii_lowercase().as_str() {
            "image/png" => Some(Self::Png),
            "image/jpeg" => Some(Self::Jpeg),
            _ => None,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }

    /// The file extension, for download names.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Self::Png => ImageFormat::Png,
            Self::Jpeg => ImageFormat::Jpeg,
        }
    }

    fn of(format: ImageFormat) -> Option<Self> {
        match format {
            ImageFormat::Png => Some(Self::Png),
            ImageFormat::Jpeg => Some(Self::Jpeg),
            _ => None,
        }
    }
}

/// What decoding a logo found: its format and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedLogo {
    pub format: LogoFormat,
    pub width: u32,
    pub height: u32,
}

/// Why a logo was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoError {
    #[error("the logo is larger than {MAX_LOGO_BYTES} bytes")]
    TooManyBytes,
    /// The bytes are an image of another format than the one declared.
    #[error("the bytes are {found}, not {declared} as declared")]
    FormatMismatch {
        declared: &'static str,
        found: String,
    },
    /// The bytes do not decode completely as the declared format.
    #[error("the bytes are not a valid {format} image: {reason}")]
    Undecodable {
        format: &'static str,
        reason: String,
    },
    #[error(
        "the image is {width} x {height} pixels; a logo has at most {MAX_LOGO_SIDE} x {MAX_LOGO_SIDE}"
    )]
    TooLarge { width: u32, height: u32 },
    /// Within the pixel limits but too much memory to decode (a 16-bit image of the largest
    /// size).
    #[error(
        "the image takes more memory to decode than a logo may ({MAX_DECODE_BYTES} bytes); save it with 8 bits a channel or smaller"
    )]
    TooMuchMemory,
}

impl LogoError {
    /// The stable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooManyBytes => "payload_too_large",
            Self::FormatMismatch { .. } | Self::Undecodable { .. } => "invalid_image",
            Self::TooLarge { .. } | Self::TooMuchMemory => "image_too_large",
        }
    }
}

/// Decodes `bytes` completely as `declared`, within the size limits; returns what it found.
/// The decoded pixels are dropped: what is stored is the original bytes.
pub fn check_logo(bytes: &[u8], declared: LogoFormat) -> Result<CheckedLogo, LogoError> {
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(LogoError::TooManyBytes);
    }
    let undecodable = |reason: String| LogoError::Undecodable {
        format: declared.media_type(),
        reason,
    };
    // The signature first, so that a PNG sent as image/jpeg is named for what it is.
    if let Ok(found) = image::guess_format(bytes)
        && LogoFormat::of(found) != Some(declared)
    {
        return Err(LogoError::FormatMismatch {
            declared: declared.media_type(),
            found: LogoFormat::of(found).map_or_else(
                || format!("a {found:?} image"),
                |f| format!("a {} image", f.media_type()),
            ),
        });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_LOGO_SIDE);
    limits.max_image_height = Some(MAX_LOGO_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), declared.image_format());
    reader.limits(limits);
    match reader.decode() {
        Ok(image) if image.width() == 0 || image.height() == 0 => {
            Err(undecodable("the image has no pixels".into()))
        }
        Ok(image) => Ok(CheckedLogo {
            format: declared,
            width: image.width(),
            height: image.height(),
        }),
        Err(ImageError::Limits(_)) => Err(match dimensions(bytes, declared) {
            Some((width, height)) if width > MAX_LOGO_SIDE || height > MAX_LOGO_SIDE => {
                LogoError::TooLarge { width, height }
            }
            _ => LogoError::TooMuchMemory,
        }),
        Err(e) => Err(undecodable(e.to_string())),
    }
}

/// The dimensions the header claims, read without decoding the pixels (and without limits
/// on them, which is safe: nothing is allocated for them).
fn dimensions(bytes: &[u8], format: LogoFormat) -> Option<(u32, u32)> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.into_dimensions().ok()
}

/// An accent colour as `#RRGGBB` (hexadecimal, any case); returns it in upper case, the form
/// stored, or records a violation at `at`.
pub fn accent_color(value: &str, at: Pointer, violations: &mut Violations) -> Option<String> {
    let valid = value.len() == 7
        && value.starts_with('#')
        && value[1..].chars().all(|c| c.is_ascii_hexdigit());
    if valid {
        Some(value.to_ascii_uppercase())
    } else {
        violations.push(Violation::new(
            at,
            "invalid_color",
            "a colour is # and six hexadecimal digits (#RRGGBB, such as #1A73E8)",
        ));
        None
    }
}

/// A footer: one line of 1 to [`MAX_FOOTER_CHARS`] characters, trimmed, without control
/// characters (the PDF wraps it to the page's width).
pub fn footer_text(value: &str, at: Pointer, violations: &mut Violations) {
    fields::text(value, 1, MAX_FOOTER_CHARS, at, violations);
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb};

    fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let image = ImageBuffer::from_pixel(width, height, Rgb([200u8, 30, 60]));
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, format).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn png_and_jpeg_decode_with_their_size() {
        let png = encoded(3, 2, ImageFormat::Png);
        assert_eq!(
            check_logo(&png, LogoFormat::Png),
            Ok(CheckedLogo {
                format: LogoFormat::Png,
                width: 3,
                height: 2
            })
        );
        let jpeg = encoded(5, 4, ImageFormat::Jpeg);
        assert_eq!(check_logo(&jpeg, LogoFormat::Jpeg).unwrap().width, 5);
    }

    #[test]
    fn the_declared_format_must_be_the_decoded_one() {
        let png = encoded(3, 2, ImageFormat::Png);
        let e = check_logo(&png, LogoFormat::Jpeg).unwrap_err();
        assert_eq!(e.code(), "invalid_image");
        assert!(e.to_string().contains("image/png"), "{e}");
        let jpeg = encoded(3, 2, ImageFormat::Jpeg);
        assert_eq!(
            check_logo(&jpeg, LogoFormat::Png).unwrap_err().code(),
            "invalid_image"
        );
    }

    #[test]
    fn truncated_and_random_bytes_do_not_decode() {
        let png = encoded(40, 40, ImageFormat::Png);
        let truncated = &png[..png.len() - 20];
        assert_eq!(
            check_logo(truncated, LogoFormat::Png).unwrap_err().code(),
            "invalid_image"
        );
        let noise: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert_eq!(
            check_logo(&noise, LogoFormat::Png).unwrap_err().code(),
            "invalid_image"
        );
        assert_eq!(
            check_logo(&[], LogoFormat::Jpeg).unwrap_err().code(),
            "invalid_image"
        );
    }

    #[test]
    fn oversized_images_are_refused() {
        let wide = encoded(MAX_LOGO_SIDE + 1, 1, ImageFormat::Png);
        assert_eq!(
            check_logo(&wide, LogoFormat::Png),
            Err(LogoError::TooLarge {
                width: MAX_LOGO_SIDE + 1,
                height: 1
            })
        );
    }

    /// A PNG whose header claims 100,000 x 100,000 pixels (40 GB decoded) around a few bytes
    /// of data: refused from its header, before anything is allocated for it.
    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let mut png = encoded(1, 1, ImageFormat::Png);
        // Signature (8), IHDR length (4) and type (4), then width and height.
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            check_logo(&png, LogoFormat::Png),
            Err(LogoError::TooLarge {
                width: 100_000,
                height: 100_000
            })
        );
    }

    /// PNG's chunk checksum (ISO 3309 CRC-32).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn colours_are_normalised_to_upper_case() {
        let mut v = Violations::new();
        assert_eq!(
            accent_color("#1a73e8", Pointer::root(), &mut v).as_deref(),
            Some("#1A73E8")
        );
        for bad in [
            "1A73E8",
            "#1A73E",
            "#1A73E8F",
            "#GGGGGG",
            "red",
            "#１２３４５６",
        ] {
            assert!(
                accent_color(bad, Pointer::root(), &mut v).is_none(),
                "{bad}"
            );
        }
        assert_eq!(v.len(), 6);
    }
}
