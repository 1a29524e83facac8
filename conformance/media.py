"""Deterministic, self-made media for multimodal cases: nothing is fetched from the internet.

- :func:`png` a valid PNG (signature, IHDR, IDAT with zlib, IEND, each chunk with its CRC-32);
- :func:`wav_tone` a 16-bit mono PCM WAV tone (the standard library's ``wave`` module);
- :func:`mp3_silence` a sequence of valid MPEG-1 Layer III frames (hand-built headers, zero payload);
- :func:`video_frames` key frames as ``data:image/png;base64`` URLs;
- :func:`data_url` / :func:`b64` helpers.
"""

from __future__ import annotations

import base64
import io
import math
import struct
import wave
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png(width: int = 16, height: int = 16, color: tuple[int, int, int] = (220, 40, 40)) -> bytes:
    """A solid-colour 8-bit RGB PNG."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(color) * width  # filter type 0 per scanline
    idat = zlib.compress(row * height, 9)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def wav_tone(seconds: float = 0.5, frequency: float = 440.0, rate: int = 16000) -> bytes:
    """A sine tone as 16-bit mono PCM WAV."""
    frames = int(seconds * rate)
    samples = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * i / rate))) for i in range(frames))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples)
    return out.getvalue()


MP3_BITRATES = {32: 1, 40: 2, 48: 3, 56: 4, 64: 5, 80: 6, 96: 7, 112: 8, 128: 9, 160: 10, 192: 11, 224: 12, 256: 13, 320: 14}
MP3_RATES = {44100: 0, 48000: 1, 32000: 2}


def mp3_frame_length(bitrate_kbps: int, sample_rate: int, padding: int = 0) -> int:
    """Bytes of one MPEG-1 Layer III frame (1152 samples)."""
    return 144 * bitrate_kbps * 1000 // sample_rate + padding


def mp3_silence(frames: int = 20, bitrate_kbps: int = 128, sample_rate: int = 44100) -> bytes:
    """MPEG-1 Layer III frames, mono, no CRC, with an all-zero (silent) side info and payload."""
    header = (0x7FF << 21) | (0b11 << 19) | (0b01 << 17) | (1 << 16)  # sync, MPEG-1, Layer III, no CRC
    header |= MP3_BITRATES[bitrate_kbps] << 12 | MP3_RATES[sample_rate] << 10 | (0 << 9)  # no padding
    header |= 0b11 << 6  # channel mode: mono
    size = mp3_frame_length(bitrate_kbps, sample_rate)
    frame = struct.pack(">I", header) + bytes(size - 4)
    return frame * frames


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{b64(data)}"


def video_frames(count: int = 3) -> list[str]:
    """Key frames (distinct colours) as PNG data URLs."""
    colours = [(220, 40, 40), (40, 180, 60), (40, 80, 220), (230, 200, 40)]
    return [data_url(png(16, 16, colours[i % len(colours)])) for i in range(count)]
