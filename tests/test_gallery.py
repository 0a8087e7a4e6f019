"""Every gallery caption's claims, computed (issue 7): a caption that its own numbers
contradict fails here."""

import pytest

from ui.gallery import GALLERY, check, load

CASES = [(example, claim) for example in GALLERY for claim in example.claims]


def test_every_example_states_its_claims():
    assert all(example.claims for example in GALLERY)


@pytest.mark.parametrize(
    ("example", "claim"), CASES, ids=[f"{e.title[:30]}: {c.text}" for e, c in CASES]
)
def test_gallery_claim_holds(example, claim):
    holds, measured = check(example, claim)
    assert holds, f"{example.title}: {claim.text} (measured {measured!r})"


def test_a_claim_on_an_unknown_metric_is_refused_with_its_example():
    text = (
        '[[example]]\ntitle = "A typo"\npage = "playground"\nquery = "v=1"\nblurb = "b"\n'
        'claims = [["words", "gap ratoi", "<", 1.0]]\n'
    )
    with pytest.raises(ValueError, match="A typo: words"):
        load(text)
    assert load(text.replace("ratoi", "ratio"))[0].claims[0].metric == "gap ratio"
