"""The 57-symbol alphabet of the handwriting transcriptions.

Index: symbol
    0       '#'  the fallback: every character outside the alphabet (digits, '!', '?', '"',
                 '-', accents, ...) maps here
    1       ' '  space
    2..27   'a'..'z'
    28..53  'A'..'Z'
    54..56  '.', ',', "'"

Examples
--------
>>> len(ALPHABET)
57
>>> encode("Hi, 2u").tolist()
[35, 10, 55, 1, 0, 22]
>>> decode(encode("Hi, 2u"))
'Hi, #u'
"""
import string

import numpy as np

#: The symbol of index 0, standing for every character outside the alphabet.
FALLBACK = "#"
ALPHABET = FALLBACK + " " + string.ascii_lowercase + string.ascii_uppercase + ".,'"
_INDEX = {c: i for i, c in enumerate(ALPHABET) if c != FALLBACK}


def encode(text):
    """Text -> int8 codes (len(text),); characters outside the alphabet become 0 ('#')."""
    return np.array([_INDEX.get(c, 0) for c in text], dtype=np.int8)


def decode(codes):
    """Codes (n,) -> text, index 0 shown as '#'."""
    return "".join(ALPHABET[int(i)] for i in codes)
