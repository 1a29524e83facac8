"""The generated media parse back as what they claim to be."""

import base64
import io
import struct
import wave
import zlib

from conformance import media


def test_png_signature_ihdr_and_crcs():
    data = media.png(8, 4)
    assert data.startswith(media.PNG_SIGNATURE)
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        kinds.append(kind)
        if kind == b"IHDR":
            assert struct.unpack(">IIBBBBB", body) == (8, 4, 8, 2, 0, 0, 0)
        if kind == b"IDAT":
            assert len(zlib.decompress(body)) == 4 * (1 + 8 * 3)
        pos += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]


def test_wav_opens_with_wave():
    with wave.open(io.BytesIO(media.wav_tone(0.25, rate=8000))) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 8000)
        assert reader.getnframes() == 2000


def test_mp3_frames_have_sync_and_header_fields():
    data = media.mp3_silence(frames=5, bitrate_kbps=128, sample_rate=44100)
    size = media.mp3_frame_length(128, 44100)
    assert size == 417 and len(data) == 5 * size
    for k in range(5):
        (header,) = struct.unpack(">I", data[k * size:k * size + 4])
        assert header >> 21 == 0x7FF  # frame sync
        assert (header >> 19) & 0b11 == 0b11  # MPEG-1
        assert (header >> 17) & 0b11 == 0b01  # Layer III
        assert (header >> 12) & 0xF == 9  # 128 kbps
        assert (header >> 10) & 0b11 == 0  # 44.1 kHz
        assert (header >> 6) & 0b11 == 0b11  # mono


def test_video_frames_are_png_data_urls():
    frames = media.video_frames(3)
    assert len(set(frames)) == 3
    for url in frames:
        head, _, payload = url.partition(",")
        assert head == "data:image/png;base64"
        assert base64.b64decode(payload).startswith(media.PNG_SIGNATURE)
