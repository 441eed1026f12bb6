//! Product images uploaded by shop staff, re-encoded before anything keeps them.
//!
//! Guarantees: [`reencode`] is the one way from uploaded bytes to a [`StoredImage`], and a
//! stored image is never the file that was sent. It is the pixels of the upload, freshly encoded
//! by this module, so whatever rode along with them is gone: metadata (EXIF including GPS
//! position and camera serials, XMP, IPTC, ICC profiles, PNG text chunks, JPEG comments and
//! application segments), scripts or markup hidden in any of those, and bytes appended after the
//! image's end. This is the "content re-writing" defence of the OWASP File Upload Cheat Sheet: a
//! polyglot that is both an image and HTML, a script or an archive comes out as only an image.
//!
//! What is checked, in order, and why:
//! 1. The size of the upload, against [`ImageLimits::max_bytes`], before anything is parsed.
//! 2. The format, from the magic bytes alone (never the file name or a Content-Type, which the
//!    sender chooses): PNG, JPEG and WebP are accepted; GIF, SVG (a script carrier), HTML, PDF,
//!    BMP, TIFF, AVIF and anything else are [`ImageError::NotAnImage`].
//! 3. The dimensions, read from the header only, against the pixel count and the width and
//!    height limits, and the decoded size against [`ImageLimits::max_alloc`], all before a pixel
//!    is decoded: a decompression bomb (a small file declaring 40000 × 40000) is refused without
//!    allocating its pixels. The same limits are then handed to the decoder as
//!    [`image::Limits`], a second wall should the first have a gap.
//! 4. The whole image is decoded (a damaged or truncated one is refused), the EXIF orientation
//!    of a JPEG or PNG is applied to the pixels (the tag itself is dropped with the rest of the
//!    EXIF), and an image with a longer side than [`ImageLimits::display_max_side`] is downscaled
//!    to it with a Lanczos3 filter, keeping its aspect ratio.
//! 5. It is encoded anew: an image whose alpha channel is actually used (some pixel is not fully
//!    opaque) becomes an 8-bit RGBA PNG; every other one an 8-bit RGB JPEG at quality
//!    [`JPEG_QUALITY`]. Only the encoders' own structure is written (PNG: IHDR, IDAT, IEND; JPEG:
//!    JFIF header, tables, scan), no metadata is handed to them, so no byte of the upload's
//!    non-pixel data can reach the output.
//!
//! Colour profiles are dropped, not applied: pixels are taken as sRGB, so a wide-gamut photo
//! (Display P3, Adobe RGB) comes out slightly less saturated. Of an animated PNG or WebP only the
//! first frame is kept.
//!
//! [`reencode`] is CPU-bound and memory-hungry: a 24-megapixel photo takes around a second (the
//! Lanczos3 downscale is most of it) and up to about 250 MB at its peak (the decoded pixels and
//! the resampler's floating-point intermediate). Call it from a blocking task, not on an async
//! worker, and not for many uploads at once.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngDecoder, PngEncoder};
use image::codecs::webp::WebPDecoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder};
use sha2::{Digest, Sha256};

/// The JPEG quality of re-encoded opaque images.
pub const JPEG_QUALITY: u8 = 85;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_SIGNATURE: &[u8] = b"\xFF\xD8\xFF";

/// What an upload may be. Checked before decoding, except `display_max_side`, which is applied
/// after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest upload, in bytes.
    pub max_bytes: usize,
    /// Largest width declared in the image's header, in pixels.
    pub max_width: u32,
    /// Largest height declared in the image's header, in pixels.
    pub max_height: u32,
    /// Largest width × height declared in the image's header.
    pub max_pixels: u64,
    /// Most memory the decoder may use for the decoded pixels, in bytes.
    pub max_alloc: u64,
    /// Longest side of a stored image: a larger one is downscaled (Lanczos3, aspect ratio kept)
    /// so its longer side is this. `None` keeps every image at its size.
    pub display_max_side: Option<u32>,
}

impl Default for ImageLimits {
    /// 10 MiB, 6000 × 6000, 24 megapixels, 256 MiB for decoding; stored at most 2400 px a side.
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_width: 6000,
            max_height: 6000,
            max_pixels: 24_000_000,
            max_alloc: 256 * 1024 * 1024,
            display_max_side: Some(2400),
        }
    }
}

/// An image format, as sniffed from an upload's magic bytes or as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Png,
    Jpeg,
    WebP,
}

impl ImageFormat {
    /// The media type to serve the image with.
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::WebP => "image/webp",
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::WebP => "webp",
        }
    }

    /// The format the magic bytes at the start of `bytes` announce, if it is one accepted.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(PNG_SIGNATURE) {
            Some(Self::Png)
        } else if bytes.starts_with(JPEG_SIGNATURE) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
            Some(Self::WebP)
        } else {
            None
        }
    }
}

/// A freshly encoded image, ready to be stored and served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// The encoded image: none of it comes from the upload but its pixels.
    pub bytes: Vec<u8>,
    /// The format of `bytes`: [`ImageFormat::Png`] or [`ImageFormat::Jpeg`].
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of `bytes`.
    pub sha256: [u8; 32],
    /// The format the upload was in.
    pub source_format: ImageFormat,
}

/// Why an upload was refused. [`ImageError::code`] names it for the web layer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("The file is {size} bytes; the largest accepted is {max} bytes.")]
    TooLarge { size: usize, max: usize },
    #[error("The file is not a PNG, JPEG or WebP image.")]
    NotAnImage,
    #[error("The image has {pixels} pixels; the most accepted is {max}.")]
    TooManyPixels { pixels: u64, max: u64 },
    #[error(
        "The image is {width} × {height} pixels; the largest accepted is {max_width} × {max_height}."
    )]
    DimensionsTooLarge {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },
    #[error("Decoding the image would need more memory than is allowed.")]
    TooMuchMemory,
    #[error("The file starts like an image but is damaged or incomplete.")]
    Undecodable,
    #[error(
        "This variant of the format (for example a 12-bit or arithmetic-coded JPEG) is not \
         supported; save the image again as an ordinary PNG, JPEG or WebP."
    )]
    UnsupportedVariant,
    #[error("The image could not be encoded again.")]
    EncodeFailed,
}

impl ImageError {
    /// A stable name of the refusal, for the web layer's messages and for logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "image_too_large",
            Self::NotAnImage => "not_an_image",
            Self::TooManyPixels { .. } => "image_too_many_pixels",
            Self::DimensionsTooLarge { .. } => "image_dimensions_too_large",
            Self::TooMuchMemory => "image_too_much_memory",
            Self::Undecodable => "image_undecodable",
            Self::UnsupportedVariant => "image_unsupported_variant",
            Self::EncodeFailed => "image_encode_failed",
        }
    }

    /// A decoder's error: by then the size and the dimensions have passed this module's checks.
    fn from_decoding(error: &image::ImageError) -> Self {
        match error {
            image::ImageError::Limits(_) => Self::TooMuchMemory,
            image::ImageError::Unsupported(_) => Self::UnsupportedVariant,
            image::ImageError::Decoding(_)
            | image::ImageError::IoError(_)
            | image::ImageError::Parameter(_)
            | image::ImageError::Encoding(_) => Self::Undecodable,
        }
    }
}

/// Checks `bytes` against `limits` and returns its pixels freshly encoded, or why not.
///
/// See the module documentation for what is checked, in which order, and what the output is.
pub fn reencode(bytes: &[u8], limits: &ImageLimits) -> Result<StoredImage, ImageError> {
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooLarge {
            size: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let source_format = ImageFormat::sniff(bytes).ok_or(ImageError::NotAnImage)?;
    // The decoders are written to return errors on hostile input, and the tests throw random
    // bytes at them; should one still panic, the upload is refused and the worker lives on.
    catch_unwind(AssertUnwindSafe(|| {
        decode_and_encode(bytes, source_format, limits)
    }))
    .unwrap_or(Err(ImageError::Undecodable))
}

fn decode_and_encode(
    bytes: &[u8],
    source_format: ImageFormat,
    limits: &ImageLimits,
) -> Result<StoredImage, ImageError> {
    let decoded = decode(bytes, source_format, limits)?;
    let fitted = fit_for_display(decoded, limits.display_max_side);
    let (encoded, format, width, height) = encode(fitted)?;
    let sha256: [u8; 32] = Sha256::digest(&encoded).into();
    Ok(StoredImage {
        bytes: encoded,
        format,
        width,
        height,
        sha256,
        source_format,
    })
}

/// The limits handed to a decoder once the header passed this module's own checks.
fn decoder_limits(limits: &ImageLimits) -> image::Limits {
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_width);
    decoder_limits.max_image_height = Some(limits.max_height);
    decoder_limits.max_alloc = Some(limits.max_alloc);
    decoder_limits
}

fn decode(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
) -> Result<DynamicImage, ImageError> {
    let header_error = |e: image::ImageError| ImageError::from_decoding(&e);
    match format {
        ImageFormat::Png => {
            // The PNG decoder reads every chunk before the first IDAT when it is made (text,
            // ICC, EXIF): bound those allocations too, but leave the dimensions to `check_header`
            // so the refusal names them.
            let mut header_limits = image::Limits::default();
            header_limits.max_alloc = Some(limits.max_alloc);
            let mut decoder =
                PngDecoder::with_limits(Cursor::new(bytes), header_limits).map_err(header_error)?;
            check_header(&decoder, limits)?;
            let orientation = decoder.orientation().map_err(header_error)?;
            decode_checked(decoder, limits, orientation)
        }
        ImageFormat::Jpeg => {
            // Reads the markers up to the first scan; no pixel buffer.
            let mut decoder = JpegDecoder::new(Cursor::new(bytes)).map_err(header_error)?;
            check_header(&decoder, limits)?;
            let orientation = decoder.orientation().map_err(header_error)?;
            decode_checked(decoder, limits, orientation)
        }
        ImageFormat::WebP => {
            let riff = webp_riff(bytes).ok_or(ImageError::Undecodable)?;
            let decoder = WebPDecoder::new(Cursor::new(riff)).map_err(header_error)?;
            check_header(&decoder, limits)?;
            // The EXIF of a WebP is not read: the decoder would size its buffer from the
            // chunk's declared length, and orientation tags in WebP files are rare.
            decode_checked(decoder, limits, Orientation::NoTransforms)
        }
    }
}

/// The first wall: the dimensions and the decoded size a header declares, before decoding.
fn check_header(decoder: &impl ImageDecoder, limits: &ImageLimits) -> Result<(), ImageError> {
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::Undecodable);
    }
    let pixels = u64::from(width).saturating_mul(u64::from(height));
    if pixels > limits.max_pixels {
        return Err(ImageError::TooManyPixels {
            pixels,
            max: limits.max_pixels,
        });
    }
    if width > limits.max_width || height > limits.max_height {
        return Err(ImageError::DimensionsTooLarge {
            width,
            height,
            max_width: limits.max_width,
            max_height: limits.max_height,
        });
    }
    if decoder.total_bytes() > limits.max_alloc {
        return Err(ImageError::TooMuchMemory);
    }
    Ok(())
}

/// Decodes an image whose header passed [`check_header`], with the limits set on the decoder as
/// the second wall, and turns it upright.
fn decode_checked(
    mut decoder: impl ImageDecoder,
    limits: &ImageLimits,
    orientation: Orientation,
) -> Result<DynamicImage, ImageError> {
    decoder
        .set_limits(decoder_limits(limits))
        .map_err(|e| ImageError::from_decoding(&e))?;
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| ImageError::from_decoding(&e))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// The RIFF container of a WebP upload, without anything appended after it, once every chunk
/// in it is seen to lie inside it (the decoder sizes some reads from declared chunk lengths).
fn webp_riff(bytes: &[u8]) -> Option<&[u8]> {
    let riff_size = usize::try_from(read_u32_le(bytes, 4)?).ok()?;
    let riff_end = riff_size.checked_add(8)?;
    let riff = bytes.get(..riff_end)?;
    // After "RIFF", the size and "WEBP": chunks of a four-byte tag, a little-endian size and
    // the data, padded to an even length.
    let mut at: usize = 12;
    while at < riff_end {
        let chunk_size = usize::try_from(read_u32_le(riff, at.checked_add(4)?)?).ok()?;
        let data_end = at.checked_add(8)?.checked_add(chunk_size)?;
        if data_end > riff_end {
            return None;
        }
        at = data_end.checked_add(chunk_size % 2)?;
    }
    Some(riff)
}

fn read_u32_le(bytes: &[u8], at: usize) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(word))
}

/// Converts to 8 bits a channel (RGBA when the alpha is used, else RGB) and downscales an image
/// larger than `max_side` so its longer side is `max_side`.
fn fit_for_display(image: DynamicImage, max_side: Option<u32>) -> DynamicImage {
    let image = if alpha_is_used(&image) {
        DynamicImage::ImageRgba8(image.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.into_rgb8())
    };
    match max_side {
        Some(max) if max > 0 && image.width().max(image.height()) > max => {
            image.resize(max, max, FilterType::Lanczos3)
        }
        _ => image,
    }
}

/// Whether some pixel of `image` is not fully opaque.
fn alpha_is_used(image: &DynamicImage) -> bool {
    if !image.color().has_alpha() {
        return false;
    }
    match image {
        DynamicImage::ImageLumaA8(buffer) => buffer.pixels().any(|p| p.0[1] != u8::MAX),
        DynamicImage::ImageRgba8(buffer) => buffer.pixels().any(|p| p.0[3] != u8::MAX),
        DynamicImage::ImageLumaA16(buffer) => buffer.pixels().any(|p| p.0[1] != u16::MAX),
        DynamicImage::ImageRgba16(buffer) => buffer.pixels().any(|p| p.0[3] != u16::MAX),
        // Other types with alpha (floating point) do not come out of these decoders; when in
        // doubt keep the alpha.
        _ => true,
    }
}

/// Encodes an 8-bit RGBA image as PNG and any other as an 8-bit RGB JPEG, with no metadata.
fn encode(image: DynamicImage) -> Result<(Vec<u8>, ImageFormat, u32, u32), ImageError> {
    let (width, height) = (image.width(), image.height());
    let mut out = Vec::new();
    let format = match image {
        DynamicImage::ImageRgba8(rgba) => {
            PngEncoder::new_with_quality(&mut out, CompressionType::Default, PngFilter::Adaptive)
                .write_image(rgba.as_raw(), width, height, ExtendedColorType::Rgba8)
                .map_err(|_| ImageError::EncodeFailed)?;
            ImageFormat::Png
        }
        other => {
            let rgb = other.into_rgb8();
            JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
                .write_image(rgb.as_raw(), width, height, ExtendedColorType::Rgb8)
                .map_err(|_| ImageError::EncodeFailed)?;
            ImageFormat::Jpeg
        }
    };
    Ok((out, format, width, height))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use image::codecs::webp::WebPEncoder;
    use image::{GenericImageView, Rgb, RgbImage, Rgba, RgbaImage};
    use proptest::prelude::*;

    use super::*;

    // ---- fixtures, built in code ----

    fn gradient_rgb(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    /// Opaque except for a transparent top-left quarter.
    fn gradient_rgba(width: u32, height: u32) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            let alpha = if x < width / 2 && y < height / 2 {
                0
            } else {
                255
            };
            Rgba([(x * 3 % 256) as u8, (y * 11 % 256) as u8, 90, alpha])
        })
    }

    fn png_rgb(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(
                gradient_rgb(width, height).as_raw(),
                width,
                height,
                ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    fn png_rgba(image: &RgbaImage) -> Vec<u8> {
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(
                image.as_raw(),
                image.width(),
                image.height(),
                ExtendedColorType::Rgba8,
            )
            .unwrap();
        out
    }

    fn jpeg_rgb(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(
                gradient_rgb(width, height).as_raw(),
                width,
                height,
                ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    fn webp_lossless(image: &RgbaImage) -> Vec<u8> {
        let mut out = Vec::new();
        WebPEncoder::new_lossless(&mut out)
            .encode(
                image.as_raw(),
                image.width(),
                image.height(),
                ExtendedColorType::Rgba8,
            )
            .unwrap();
        out
    }

    fn webp_lossless_rgb(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        WebPEncoder::new_lossless(&mut out)
            .encode(
                gradient_rgb(width, height).as_raw(),
                width,
                height,
                ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = u32::MAX;
        for &byte in data {
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

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut chunk = Vec::new();
        chunk.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        chunk.extend_from_slice(kind);
        chunk.extend_from_slice(data);
        let mut covered = kind.to_vec();
        covered.extend_from_slice(data);
        chunk.extend_from_slice(&crc32(&covered).to_be_bytes());
        chunk
    }

    /// `png` with `chunks` inserted right after IHDR (signature 8 bytes, IHDR 25).
    fn png_with_chunks_after_ihdr(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
        assert_eq!(&png[12..16], b"IHDR");
        let mut out = png[..33].to_vec();
        for chunk in chunks {
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&png[33..]);
        out
    }

    fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut segment = vec![0xFF, marker];
        segment.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        segment.extend_from_slice(payload);
        segment
    }

    /// `jpeg` with `segments` inserted right after SOI.
    fn jpeg_with_segments(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        let mut out = jpeg[..2].to_vec();
        for segment in segments {
            out.extend_from_slice(segment);
        }
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    /// The latitude rationals of the GPS fixture: 35/1, 39/1, 0x4B555241/100000000. The last
    /// numerator spells "KURA", to be searched for in outputs.
    const GPS_LATITUDE: [u8; 24] = [
        0, 0, 0, 35, 0, 0, 0, 1, 0, 0, 0, 39, 0, 0, 0, 1, b'K', b'U', b'R', b'A', 0x05, 0xF5, 0xE1,
        0x00,
    ];

    /// A big-endian TIFF structure as EXIF carries it: IFD0 with an orientation and a pointer to
    /// a GPS IFD holding a latitude.
    fn exif_tiff(orientation: u16) -> Vec<u8> {
        let mut tiff = b"MM\x00\x2A\x00\x00\x00\x08".to_vec();
        // IFD0 at 8: two entries, then the next-IFD offset; it ends at 8 + 2 + 24 + 4 = 38.
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&[0x88, 0x25, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01]);
        tiff.extend_from_slice(&38u32.to_be_bytes());
        tiff.extend_from_slice(&0u32.to_be_bytes());
        // GPS IFD at 38: latitude reference and latitude; the rationals follow at 68.
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&[0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02]);
        tiff.extend_from_slice(b"N\0\0\0");
        tiff.extend_from_slice(&[0x00, 0x02, 0x00, 0x05, 0x00, 0x00, 0x00, 0x03]);
        tiff.extend_from_slice(&68u32.to_be_bytes());
        tiff.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(tiff.len(), 68);
        tiff.extend_from_slice(&GPS_LATITUDE);
        tiff
    }

    fn exif_app1(orientation: u16) -> Vec<u8> {
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&exif_tiff(orientation));
        jpeg_segment(0xE1, &payload)
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    }

    /// Byte strings that must never reach a stored image.
    const SMUGGLED: &[&[u8]] = &[
        b"<script",
        b"alert(1)",
        b"<html",
        b"Exif",
        b"MM\x00\x2A",
        b"KURA",
        b"Comment",
        b"GPS",
    ];

    fn assert_clean(stored: &StoredImage) {
        for needle in SMUGGLED {
            assert!(
                !contains(&stored.bytes, needle),
                "output holds {:?}",
                String::from_utf8_lossy(needle)
            );
        }
    }

    /// Decodes a stored image independently of `reencode` and checks what it claims.
    fn decode_stored(stored: &StoredImage) -> DynamicImage {
        let format = match stored.format {
            ImageFormat::Png => image::ImageFormat::Png,
            ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            ImageFormat::WebP => panic!("nothing is stored as WebP"),
        };
        let decoded = image::load_from_memory_with_format(&stored.bytes, format).unwrap();
        assert_eq!(decoded.dimensions(), (stored.width, stored.height));
        let digest: [u8; 32] = Sha256::digest(&stored.bytes).into();
        assert_eq!(stored.sha256, digest);
        decoded
    }

    fn reencode_default(bytes: &[u8]) -> Result<StoredImage, ImageError> {
        reencode(bytes, &ImageLimits::default())
    }

    /// Fixed-Huffman deflate of `len` zero bytes, wrapped in zlib: one literal, then matches of
    /// 258 bytes at distance 1 (13 bits each), then literals.
    fn zlib_zeros(len: usize) -> Vec<u8> {
        struct Bits {
            out: Vec<u8>,
            acc: u8,
            used: u32,
        }
        impl Bits {
            fn bit(&mut self, bit: u32) {
                self.acc |= ((bit & 1) as u8) << self.used;
                self.used += 1;
                if self.used == 8 {
                    self.out.push(self.acc);
                    self.acc = 0;
                    self.used = 0;
                }
            }
            /// Header fields go least significant bit first.
            fn value(&mut self, value: u32, count: u32) {
                for i in 0..count {
                    self.bit(value >> i);
                }
            }
            /// Huffman codes go most significant bit first.
            fn code(&mut self, code: u32, count: u32) {
                for i in (0..count).rev() {
                    self.bit(code >> i);
                }
            }
        }
        let mut bits = Bits {
            out: vec![0x78, 0x01],
            acc: 0,
            used: 0,
        };
        bits.value(1, 1); // final block
        bits.value(1, 2); // fixed Huffman codes
        bits.code(0x30, 8); // literal 0
        let mut left = len - 1;
        while left >= 258 {
            bits.code(0xC5, 8); // length 258
            bits.code(0, 5); // distance 1
            left -= 258;
        }
        for _ in 0..left {
            bits.code(0x30, 8);
        }
        bits.code(0, 7); // end of block
        if bits.used > 0 {
            bits.out.push(bits.acc);
        }
        let a: u32 = 1;
        let b = u32::try_from(len % 65521).unwrap();
        bits.out.extend_from_slice(&((b << 16) | a).to_be_bytes());
        bits.out
    }

    /// A complete, valid 1-bit greyscale PNG of `side` × `side` black pixels.
    fn png_bomb(side: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&side.to_be_bytes());
        ihdr.extend_from_slice(&side.to_be_bytes());
        ihdr.extend_from_slice(&[1, 0, 0, 0, 0]); // 1 bit, greyscale, deflate, no filter, no interlace
        let row = 1 + (side as usize).div_ceil(8);
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(&png_chunk(b"IHDR", &ihdr));
        png.extend_from_slice(&png_chunk(b"IDAT", &zlib_zeros(row * side as usize)));
        png.extend_from_slice(&png_chunk(b"IEND", &[]));
        png
    }

    /// Where the SOF0 segment of a JPEG made by `JpegEncoder` starts.
    fn jpeg_sof0(jpeg: &[u8]) -> usize {
        let mut at = 2;
        loop {
            assert_eq!(jpeg[at], 0xFF);
            if jpeg[at + 1] == 0xC0 {
                return at;
            }
            at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        }
    }

    // ---- normal images ----

    #[test]
    fn an_opaque_png_comes_back_as_a_jpeg_of_its_size() {
        let stored = reencode_default(&png_rgb(64, 48)).unwrap();
        assert_eq!(stored.format, ImageFormat::Jpeg);
        assert_eq!(stored.source_format, ImageFormat::Png);
        assert_eq!((stored.width, stored.height), (64, 48));
        assert!(stored.bytes.starts_with(JPEG_SIGNATURE));
        let decoded = decode_stored(&stored);
        // Lossy, but the gradient is still there.
        let original = gradient_rgb(64, 48);
        let pixel = decoded.to_rgb8().get_pixel(40, 30).0;
        let expected = original.get_pixel(40, 30).0;
        for (got, want) in pixel.iter().zip(expected) {
            assert!(got.abs_diff(want) < 24, "{pixel:?} vs {expected:?}");
        }
    }

    #[test]
    fn a_png_whose_alpha_is_used_stays_a_lossless_png() {
        let original = gradient_rgba(30, 20);
        let stored = reencode_default(&png_rgba(&original)).unwrap();
        assert_eq!(stored.format, ImageFormat::Png);
        assert!(stored.bytes.starts_with(PNG_SIGNATURE));
        assert_eq!(decode_stored(&stored).to_rgba8(), original);
    }

    #[test]
    fn a_png_with_an_alpha_channel_that_is_all_opaque_becomes_a_jpeg() {
        let opaque = RgbaImage::from_pixel(16, 16, Rgba([10, 200, 30, 255]));
        let stored = reencode_default(&png_rgba(&opaque)).unwrap();
        assert_eq!(stored.format, ImageFormat::Jpeg);
        assert_eq!((stored.width, stored.height), (16, 16));
    }

    #[test]
    fn a_jpeg_comes_back_as_a_jpeg_of_its_size() {
        let stored = reencode_default(&jpeg_rgb(33, 17)).unwrap();
        assert_eq!(stored.format, ImageFormat::Jpeg);
        assert_eq!(stored.source_format, ImageFormat::Jpeg);
        assert_eq!((stored.width, stored.height), (33, 17));
        decode_stored(&stored);
    }

    #[test]
    fn a_lossless_webp_comes_back_decodable() {
        let opaque = webp_lossless_rgb(40, 25);
        assert_eq!(&opaque[12..16], b"VP8L");
        let stored = reencode_default(&opaque).unwrap();
        assert_eq!(stored.source_format, ImageFormat::WebP);
        assert_eq!(stored.format, ImageFormat::Jpeg);
        assert_eq!((stored.width, stored.height), (40, 25));
        decode_stored(&stored);

        let original = gradient_rgba(12, 8);
        let stored = reencode_default(&webp_lossless(&original)).unwrap();
        assert_eq!(stored.format, ImageFormat::Png);
        assert_eq!(decode_stored(&stored).to_rgba8(), original);
    }

    #[test]
    fn a_greyscale_png_becomes_an_rgb_jpeg() {
        let grey = image::GrayImage::from_fn(20, 10, |x, _| image::Luma([(x * 12) as u8]));
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(grey.as_raw(), 20, 10, ExtendedColorType::L8)
            .unwrap();
        let stored = reencode_default(&png).unwrap();
        assert_eq!(stored.format, ImageFormat::Jpeg);
        assert_eq!(decode_stored(&stored).color(), image::ColorType::Rgb8);
    }

    #[test]
    fn a_palette_png_with_a_transparent_entry_stays_a_png() {
        // 1-bit palette: every pixel is entry 0, which tRNS makes fully transparent.
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&8u32.to_be_bytes());
        ihdr.extend_from_slice(&8u32.to_be_bytes());
        ihdr.extend_from_slice(&[1, 3, 0, 0, 0]);
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(&png_chunk(b"IHDR", &ihdr));
        png.extend_from_slice(&png_chunk(b"PLTE", &[200, 10, 10, 10, 200, 10]));
        png.extend_from_slice(&png_chunk(b"tRNS", &[0]));
        png.extend_from_slice(&png_chunk(b"IDAT", &zlib_zeros(8 * 2)));
        png.extend_from_slice(&png_chunk(b"IEND", &[]));
        let stored = reencode_default(&png).unwrap();
        assert_eq!(stored.format, ImageFormat::Png);
        let decoded = decode_stored(&stored).to_rgba8();
        assert!(decoded.pixels().all(|p| p.0[3] == 0));
    }

    #[test]
    fn a_16_bit_png_is_stored_with_8_bits() {
        let image = image::ImageBuffer::<Rgba<u16>, _>::from_fn(10, 6, |x, y| {
            let alpha = if x == 0 { 0 } else { u16::MAX };
            Rgba([(x * 6000) as u16, (y * 9000) as u16, 1234, alpha])
        });
        let raw: Vec<u8> = image
            .as_raw()
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(&raw, 10, 6, ExtendedColorType::Rgba16)
            .unwrap();
        let stored = reencode_default(&png).unwrap();
        assert_eq!(stored.format, ImageFormat::Png);
        assert_eq!(decode_stored(&stored).color(), image::ColorType::Rgba8);
    }

    #[test]
    fn the_same_upload_gives_the_same_bytes_and_hash() {
        let png = png_rgb(20, 20);
        let first = reencode_default(&png).unwrap();
        let second = reencode_default(&png).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn an_image_larger_than_the_display_size_is_downscaled_keeping_its_aspect() {
        let limits = ImageLimits {
            display_max_side: Some(100),
            ..ImageLimits::default()
        };
        let stored = reencode(&png_rgb(400, 100), &limits).unwrap();
        assert_eq!((stored.width, stored.height), (100, 25));
        decode_stored(&stored);

        let stored = reencode(&png_rgba(&gradient_rgba(50, 300)), &limits).unwrap();
        assert_eq!(stored.format, ImageFormat::Png);
        assert_eq!((stored.width, stored.height), (17, 100));

        let unlimited = ImageLimits {
            display_max_side: None,
            ..ImageLimits::default()
        };
        let stored = reencode(&png_rgb(400, 100), &unlimited).unwrap();
        assert_eq!((stored.width, stored.height), (400, 100));
    }

    #[test]
    fn the_default_display_size_is_2400_pixels() {
        let stored = reencode_default(&png_rgb(2401, 10)).unwrap();
        assert_eq!((stored.width, stored.height), (2400, 10));
    }

    #[test]
    fn exif_orientation_is_applied_to_the_pixels() {
        // 40 × 20, tagged "rotate 90° clockwise" to be shown 20 × 40.
        let jpeg = jpeg_with_segments(&jpeg_rgb(40, 20), &[exif_app1(6)]);
        let mut decoder = JpegDecoder::new(Cursor::new(jpeg.as_slice())).unwrap();
        assert_eq!(decoder.orientation().unwrap(), Orientation::Rotate90);

        let stored = reencode_default(&jpeg).unwrap();
        assert_eq!((stored.width, stored.height), (20, 40));
        assert_clean(&stored);
        let mut decoder = JpegDecoder::new(Cursor::new(stored.bytes.as_slice())).unwrap();
        assert_eq!(decoder.orientation().unwrap(), Orientation::NoTransforms);
    }

    // ---- polyglots and metadata ----

    #[test]
    fn a_png_polyglot_loses_its_text_chunks_and_its_tail() {
        for (png, alpha) in [
            (png_rgb(24, 24), false),
            (png_rgba(&gradient_rgba(24, 24)), true),
        ] {
            let mut polyglot = png_with_chunks_after_ihdr(
                &png,
                &[
                    png_chunk(b"tEXt", b"Comment\0<script>alert(1)</script><html>"),
                    png_chunk(b"iTXt", b"Comment\0\0\0\0\0<html><body>GPS</body></html>"),
                    png_chunk(b"eXIf", &exif_tiff(1)),
                ],
            );
            polyglot.extend_from_slice(b"<html><script>alert(1)</script></html>");
            // The fixture is what it claims: a PNG the decoder accepts, with the EXIF seen.
            let mut decoder = PngDecoder::new(Cursor::new(polyglot.as_slice())).unwrap();
            assert!(decoder.exif_metadata().unwrap().is_some());

            let stored = reencode_default(&polyglot).unwrap();
            assert_eq!(stored.format == ImageFormat::Png, alpha);
            assert_eq!((stored.width, stored.height), (24, 24));
            assert_clean(&stored);
            decode_stored(&stored);
        }
    }

    #[test]
    fn a_jpeg_polyglot_loses_its_comment_exif_and_tail() {
        let mut polyglot = jpeg_with_segments(
            &jpeg_rgb(32, 32),
            &[
                exif_app1(1),
                jpeg_segment(0xFE, b"<html><script>alert(1)</script></html>"),
                jpeg_segment(0xED, b"Photoshop 3.0\0<html>Comment</html>"),
            ],
        );
        polyglot.extend_from_slice(b"<script>alert(1)</script>");
        assert!(contains(&polyglot, b"<script"));

        let stored = reencode_default(&polyglot).unwrap();
        assert_eq!((stored.width, stored.height), (32, 32));
        assert_clean(&stored);
        decode_stored(&stored);
    }

    #[test]
    fn a_jpeg_loses_its_gps_position() {
        let jpeg = jpeg_with_segments(&jpeg_rgb(16, 16), &[exif_app1(1)]);
        let mut decoder = JpegDecoder::new(Cursor::new(jpeg.as_slice())).unwrap();
        let exif = decoder.exif_metadata().unwrap().unwrap();
        assert!(contains(&exif, &GPS_LATITUDE));

        let stored = reencode_default(&jpeg).unwrap();
        assert!(!contains(&stored.bytes, &GPS_LATITUDE));
        let mut decoder = JpegDecoder::new(Cursor::new(stored.bytes.as_slice())).unwrap();
        assert_eq!(decoder.exif_metadata().unwrap(), None);
        assert_eq!(decoder.icc_profile().unwrap(), None);
        assert_clean(&stored);
    }

    #[test]
    fn a_jpeg_loses_its_icc_profile() {
        let mut payload = b"ICC_PROFILE\0\x01\x01".to_vec();
        payload.extend_from_slice(&[0x4B; 200]);
        let jpeg = jpeg_with_segments(&jpeg_rgb(16, 16), &[jpeg_segment(0xE2, &payload)]);
        let stored = reencode_default(&jpeg).unwrap();
        assert!(!contains(&stored.bytes, b"ICC_PROFILE"));
        let mut decoder = JpegDecoder::new(Cursor::new(stored.bytes.as_slice())).unwrap();
        assert_eq!(decoder.icc_profile().unwrap(), None);
    }

    #[test]
    fn a_webp_with_bytes_after_its_riff_container_is_cleaned() {
        let mut webp = webp_lossless_rgb(10, 10);
        webp.extend_from_slice(b"<html><script>alert(1)</script></html>");
        let stored = reencode_default(&webp).unwrap();
        assert_eq!((stored.width, stored.height), (10, 10));
        assert_clean(&stored);
    }

    // ---- refusals before decoding ----

    #[test]
    fn an_oversized_file_is_refused_before_it_is_parsed() {
        let limits = ImageLimits {
            max_bytes: 1000,
            ..ImageLimits::default()
        };
        // A PNG signature followed by garbage: were it parsed, it would be Undecodable.
        let mut bytes = PNG_SIGNATURE.to_vec();
        bytes.resize(1001, 0xAB);
        assert_eq!(
            reencode(&bytes, &limits),
            Err(ImageError::TooLarge {
                size: 1001,
                max: 1000
            })
        );
        bytes.truncate(1000);
        assert_eq!(reencode(&bytes, &limits), Err(ImageError::Undecodable));
    }

    #[test]
    fn a_png_decompression_bomb_is_refused_from_its_header() {
        let bomb = png_bomb(40_000);
        // A complete, valid file well under the size limit: 1.6 gigapixels in about 1.3 MB.
        assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
        let refused = reencode_default(&bomb);
        // Only the header check names the pixel count: the decoder's own limits would have said
        // TooMuchMemory.
        assert_eq!(
            refused,
            Err(ImageError::TooManyPixels {
                pixels: 1_600_000_000,
                max: 24_000_000
            })
        );
    }

    #[test]
    fn the_bomb_fixture_is_a_real_png() {
        // The same construction at a size that may be decoded: every pixel black.
        let small = png_bomb(100);
        let decoded = image::load_from_memory_with_format(&small, image::ImageFormat::Png)
            .unwrap()
            .to_luma8();
        assert_eq!(decoded.dimensions(), (100, 100));
        assert!(decoded.pixels().all(|p| p.0[0] == 0));
    }

    #[test]
    fn jpeg_and_webp_headers_declaring_huge_images_are_refused() {
        let mut jpeg = jpeg_rgb(16, 16);
        let sof = jpeg_sof0(&jpeg);
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]); // 65000 × 65000
        assert_eq!(
            reencode_default(&jpeg),
            Err(ImageError::TooManyPixels {
                pixels: 4_225_000_000,
                max: 24_000_000
            })
        );

        let mut webp = webp_lossless_rgb(16, 16);
        assert_eq!(&webp[12..16], b"VP8L");
        let header = u32::from_le_bytes(webp[21..25].try_into().unwrap());
        // 16383 × 16383 (fields hold the size minus one).
        let huge = (header & !0x0FFF_FFFF) | 0x3FFE | (0x3FFE << 14);
        webp[21..25].copy_from_slice(&huge.to_le_bytes());
        assert_eq!(
            reencode_default(&webp),
            Err(ImageError::TooManyPixels {
                pixels: 16383 * 16383,
                max: 24_000_000
            })
        );
    }

    #[test]
    fn an_image_wider_or_taller_than_allowed_is_refused() {
        let limits = ImageLimits {
            max_width: 100,
            max_height: 50,
            ..ImageLimits::default()
        };
        let refusal = |width, height| ImageError::DimensionsTooLarge {
            width,
            height,
            max_width: 100,
            max_height: 50,
        };
        assert_eq!(reencode(&png_rgb(101, 10), &limits), Err(refusal(101, 10)));
        assert_eq!(reencode(&jpeg_rgb(10, 51), &limits), Err(refusal(10, 51)));
        assert!(reencode(&png_rgb(100, 50), &limits).is_ok());
    }

    #[test]
    fn an_image_needing_more_memory_than_allowed_is_refused() {
        let limits = ImageLimits {
            max_alloc: 1000,
            ..ImageLimits::default()
        };
        // 20 × 20 RGB: 1200 bytes decoded.
        assert_eq!(
            reencode(&png_rgb(20, 20), &limits),
            Err(ImageError::TooMuchMemory)
        );
        assert!(reencode(&png_rgb(10, 10), &limits).is_ok());
    }

    // ---- things that are not accepted images ----

    #[test]
    fn other_formats_and_documents_are_not_images() {
        let not_images: &[&[u8]] = &[
            b"",
            b"\x89PN",
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
            b"GIF87a",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><rect/></svg>",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>",
            b"<!DOCTYPE html><html><script>alert(1)</script></html>",
            b"<html><body></body></html>",
            b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF",
            b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00",
            b"II*\x00\x08\x00\x00\x00",
            b"MM\x00*\x00\x00\x00\x08",
            b"RIFF\x24\x00\x00\x00WAVEfmt ",
            b"\x00\x00\x00\x1cftypavif",
            b"PK\x03\x04",
            b"#!/bin/sh\necho hi\n",
            b"\xFF\xD8",
        ];
        for bytes in not_images {
            assert_eq!(
                reencode_default(bytes),
                Err(ImageError::NotAnImage),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // The magic must be at the very start.
        let mut shifted = b" ".to_vec();
        shifted.extend_from_slice(&png_rgb(4, 4));
        assert_eq!(reencode_default(&shifted), Err(ImageError::NotAnImage));
    }

    #[test]
    fn truncated_or_damaged_images_are_undecodable() {
        let png = png_rgb(32, 32);
        for cut in [8, 20, 33, 40, png.len() / 2, png.len() - 12] {
            assert_eq!(
                reencode_default(&png[..cut]),
                Err(ImageError::Undecodable),
                "PNG cut at {cut}"
            );
        }
        let webp = webp_lossless_rgb(16, 16);
        for cut in [12, 20, webp.len() - 1] {
            assert_eq!(
                reencode_default(&webp[..cut]),
                Err(ImageError::Undecodable),
                "WebP cut at {cut}"
            );
        }
        assert_eq!(
            reencode_default(b"\xFF\xD8\xFF"),
            Err(ImageError::Undecodable)
        );
        assert_eq!(
            reencode_default(b"RIFF\x04\x00\x00\x00WEBP"),
            Err(ImageError::Undecodable)
        );
        // A chunk declaring more than the container holds.
        let mut lying = webp_lossless_rgb(16, 16);
        lying[16..20].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
        assert_eq!(reencode_default(&lying), Err(ImageError::Undecodable));
    }

    #[test]
    fn every_refusal_has_a_distinct_code_and_a_message() {
        let all = [
            ImageError::TooLarge { size: 2, max: 1 },
            ImageError::NotAnImage,
            ImageError::TooManyPixels { pixels: 2, max: 1 },
            ImageError::DimensionsTooLarge {
                width: 2,
                height: 2,
                max_width: 1,
                max_height: 1,
            },
            ImageError::TooMuchMemory,
            ImageError::Undecodable,
            ImageError::UnsupportedVariant,
            ImageError::EncodeFailed,
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(ImageError::code).collect();
        assert_eq!(codes.len(), all.len());
        for error in &all {
            assert!(
                error
                    .code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn formats_name_their_media_type_and_extension() {
        assert_eq!(ImageFormat::Png.content_type(), "image/png");
        assert_eq!(ImageFormat::Jpeg.content_type(), "image/jpeg");
        assert_eq!(ImageFormat::WebP.content_type(), "image/webp");
        assert_eq!(ImageFormat::Png.extension(), "png");
        assert_eq!(ImageFormat::Jpeg.extension(), "jpg");
        assert_eq!(ImageFormat::WebP.extension(), "webp");
    }

    // ---- hostile bytes never panic ----

    fn small_limits() -> ImageLimits {
        ImageLimits {
            max_width: 512,
            max_height: 512,
            max_pixels: 65_536,
            max_alloc: 1024 * 1024,
            ..ImageLimits::default()
        }
    }

    /// Calls the decoders without `reencode`'s catch_unwind, so a panic fails the test.
    fn hostile(bytes: &[u8]) {
        let limits = small_limits();
        if let Some(format) = ImageFormat::sniff(bytes) {
            if let Ok(stored) = decode_and_encode(bytes, format, &limits) {
                assert!(stored.width <= 512 && stored.height <= 512);
                decode_stored(&stored);
            }
        } else {
            assert_eq!(reencode(bytes, &limits), Err(ImageError::NotAnImage));
        }
    }

    fn fixture(index: usize) -> Vec<u8> {
        match index {
            0 => png_rgb(12, 9),
            1 => png_rgba(&gradient_rgba(9, 12)),
            2 => jpeg_rgb(17, 9),
            3 => webp_lossless_rgb(9, 7),
            _ => webp_lossless(&gradient_rgba(7, 9)),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_never_panic(
            magic in 0usize..4,
            body in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let prefix: &[u8] = match magic {
                0 => PNG_SIGNATURE,
                1 => JPEG_SIGNATURE,
                2 => b"RIFF\x00\x01\x00\x00WEBP",
                _ => b"",
            };
            let mut bytes = prefix.to_vec();
            bytes.extend_from_slice(&body);
            hostile(&bytes);
        }

        #[test]
        fn damaged_images_never_panic(
            index in 0usize..5,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut bytes = fixture(index);
            for (at, value) in flips {
                let at = at.index(bytes.len());
                bytes[at] = value;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            }
            hostile(&bytes);
        }
    }
}
