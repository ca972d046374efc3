"""Our BPE with GPT-2's merges, tiktoken's GPT-2 encoding and Hugging Face's GPT2TokenizerFast,
all built offline from the same two files, give the same ids."""

from phase03.bpe import ENDOFTEXT
from phase09.tokenizers_compare import VARIED_TEXT, first_difference, three_tokenizers


def test_three_tokenizers_agree_on_a_varied_text(tiny_text: str) -> None:
    encoders = three_tokenizers()
    assert len(encoders) == 3
    for text in (VARIED_TEXT, tiny_text, "Hello world", "   \n\n\t x", "🙂🚀 東京 café"):
        results = [encode(text) for encode in encoders.values()]
        assert all(r == results[0] for r in results), text
    assert encoders["tiktoken (Rust)"]("Hello world") == [15496, 995]


def test_special_token_when_allowed() -> None:
    from phase03.gpt2_tokenizer import gpt2_tiktoken, gpt2_tokenizer
    from phase09.tokenizers_compare import hf_gpt2_tokenizer

    text = f"a{ENDOFTEXT}b"
    expected = gpt2_tiktoken().encode(text, allowed_special={ENDOFTEXT})
    assert 50256 in expected
    assert gpt2_tokenizer().encode(text, allowed_special={ENDOFTEXT}) == expected
    assert hf_gpt2_tokenizer().encode(text) == expected


def test_first_difference() -> None:
    assert first_difference([1, 2, 3], [1, 2, 3]) is None
    assert first_difference([1, 2, 3], [1, 5, 3]) == 1
    assert first_difference([1, 2], [1, 2, 3]) == 2
