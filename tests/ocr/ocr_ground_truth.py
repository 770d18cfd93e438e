"""Ground truth of the hw5 photos, typed from the images (``$NEURALAB_DATA/hw5/``).

``01_list.jpg`` and ``02_letters.jpg`` ship with the data folder; ``03_haiku.jpg`` and
``04_deep.jpg`` are the handout's other two photos (same source repository), used when
they are present there and skipped otherwise.

Lines and word spaces as written on the page. The periods after the list numbers are real
ink but not characters the classifier can emit: the detector drops them as punctuation,
and :data:`ALPHABET` removes them before comparing. ``02_letters.jpg`` is an alphabet chart:
its letters are evenly spaced with no words, so its lines carry no spaces.
"""

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

LIST_01 = """\
TO DO LIST
1. MAKE A TO DO LIST
2. CHECK OFF THE FIRST
THING ON TO DO LIST
3. REALIZE YOU HAVE ALREADY
COMPLETED 2 THINGS
4. REWARD YOURSELF WITH
A NAP"""

LETTERS_02 = """\
ABCDEFG
HIJKLMN
OPQRSTU
VWXYZ
1234567890"""

HAIKU_03 = """\
HAIKUS ARE EASY
BUT SOMETIMES THEY DONT MAKE SENSE
REFRIGERATOR"""

DEEP_04 = """\
DEEP LEARNING
DEEPER LEARNING
DEEPEST LEARNING"""

PHOTOS = {
    "01_list.jpg": LIST_01,
    "02_letters.jpg": LETTERS_02,
    "03_haiku.jpg": HAIKU_03,
    "04_deep.jpg": DEEP_04,
}


def line_chars(text: str) -> list[str]:
    """Per line, the characters a detector should box (alphabet only, no spaces)."""
    return ["".join(c for c in line if c in ALPHABET) for line in text.split("\n")]
