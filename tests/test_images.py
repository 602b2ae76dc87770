import io

import numpy as np
import pytest
from PIL import Image

from vlm4rec_agent.errors import InvalidInputError, NotFoundError
from vlm4rec_agent.image_budget import ImageLimit
from vlm4rec_agent.images import WORKING_SIZE, open_image


def jpeg_bytes(size=(200, 100), colour=(200, 30, 35)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def test_good_jpeg_opens_as_rgb(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes())
    image = open_image(path)
    assert image.mode == "RGB" and image.size == (200, 100)


def test_missing_empty_and_non_image_files_are_refused_with_a_reason(tmp_path):
    with pytest.raises(NotFoundError, match="not found"):
        open_image(tmp_path / "none.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InvalidInputError, match="empty"):
        open_image(tmp_path / "empty.jpg")
    (tmp_path / "page.jpg").write_text("<html><body>not a photo</body></html>")
    with pytest.raises(InvalidInputError, match="not an image"):
        open_image(tmp_path / "page.jpg")


@pytest.mark.parametrize("content", [None, b"", b"<html></html>", b"\xff\xd8\xff\xe0 cut"])
def test_messages_name_the_file_but_not_the_servers_folders(tmp_path, content):
    """A shopper sees these messages for an upload: the server's upload folder stays private."""
    path = tmp_path / "private-folder" / "photo.jpg"
    path.parent.mkdir()
    if content is not None:
        path.write_bytes(content)
    with pytest.raises((InvalidInputError, NotFoundError)) as caught:
        open_image(path)
    assert "photo.jpg" in str(caught.value)
    assert "private-folder" not in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_truncated_jpeg_is_refused(tmp_path):
    data = jpeg_bytes((400, 400))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInputError, match="damaged or truncated"):
        open_image(path)


def test_too_many_pixels_is_refused_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(path)
    with pytest.raises(InvalidInputError, match="too large"):
        open_image(path, ImageLimit.catalog(1_000_000))


def test_transparent_png_is_put_on_white():
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG")
    image = open_image(buffer.getvalue())
    assert image.getpixel((5, 5)) == (255, 255, 255)


def test_sixteen_bit_greyscale_keeps_its_brightness():
    grey16 = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))
    image = open_image(grey16)
    assert image.mode == "RGB" and abs(image.getpixel((0, 0))[0] - 127) <= 1


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (200, 100), (10, 10, 10))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert open_image(path).size == (100, 200)


def test_large_photos_are_shrunk_to_the_working_size(tmp_path):
    path = tmp_path / "large.jpg"
    path.write_bytes(jpeg_bytes((4000, 2000)))
    image = open_image(path)
    assert max(image.size) == WORKING_SIZE and image.size[0] == 2 * image.size[1]


def test_a_wide_16_bit_photo_opens_with_its_brightness(tmp_path):
    """6200 px wide: reduced band by band (Pillow's reduce refuses 16-bit images: it was "damaged")."""
    path = tmp_path / "wide.png"
    Image.new("I;16", (6200, 1000), 30000).save(path)
    image = open_image(path)
    assert image.size == (WORKING_SIZE, 165) and image.getpixel((500, 80)) == (117, 117, 117)  # 30000 / 257
