import string

from nips2015_vrnn.datasets.alphabet import ALPHABET, FALLBACK, decode, encode


def test_alphabet_has_57_distinct_symbols():
    assert len(ALPHABET) == 57 == len(set(ALPHABET))


def test_letters_space_and_punctuation_round_trip():
    text = string.ascii_letters + " .,'"
    assert decode(encode(text)) == text


def test_unknown_characters_map_to_the_fallback_index_zero():
    codes = encode("9!é-?")
    assert codes.tolist() == [0] * 5
    assert decode(codes) == FALLBACK * 5
