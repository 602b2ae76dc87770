import numpy as np
import pytest
from PIL import Image, ImageDraw

from vlm4rec_agent.grounding.colours import ColourNamer, srgb_to_lab
from vlm4rec_agent.grounding.vocabulary import load_vocabulary


@pytest.fixture(scope="module")
def namer():
    return ColourNamer(load_vocabulary().color_rgb)


def shape_on(backdrop, colour, size=120, inset=30):
    image = Image.new("RGB", (size, size), backdrop)
    ImageDraw.Draw(image).rectangle((inset, inset, size - inset, size - inset), fill=colour)
    return image


def test_lab_of_reference_colours():
    lab = srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]]))
    assert lab[0] == pytest.approx([100, 0, 0], abs=0.1)
    assert lab[1] == pytest.approx([0, 0, 0], abs=0.1)
    assert lab[2][0] == pytest.approx(53.2, abs=0.3) and lab[2][1] > 75  # sRGB red: L 53, a 80


@pytest.mark.parametrize(
    "colour, name",
    [
        ((200, 30, 35), "red"),
        ((40, 80, 200), "blue"),
        ((50, 150, 60), "green"),
        ((20, 20, 22), "black"),
        ((240, 210, 40), "yellow"),
    ],
)
def test_object_on_white_backdrop_is_named_by_its_colour(namer, colour, name):
    reading = namer.read(shape_on((255, 255, 255), colour))
    assert reading.names[0] == name
    assert reading.backdrop == "white"
    # The thumbnail blends the object's rim with the backdrop, so a few percent read as other shades.
    assert name in reading.shares and reading.shares[name] > 0.8


def test_white_object_on_white_backdrop_is_white(namer):
    assert namer.read(Image.new("RGB", (80, 80), (250, 250, 250))).names == ["white"]


def test_two_coloured_object_names_both(namer):
    image = Image.new("RGB", (120, 120), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 60, 100), fill=(200, 30, 35))
    draw.rectangle((60, 20, 100, 100), fill=(40, 80, 200))
    assert set(namer.read(image).names[:2]) == {"red", "blue"}


def test_busy_backdrop_falls_back_to_the_centre(namer):
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 255, size=(120, 120, 3), dtype=np.uint8)
    noise[30:90, 30:90] = (40, 80, 200)
    reading = namer.read(Image.fromarray(noise))
    assert reading.backdrop is None
    assert reading.names[0] == "blue"
