"""Every gallery caption's claims, computed (issue 7): a caption that its own numbers
contradict fails here."""

import pytest

from ui.gallery import GALLERY, check

CASES = [(example, claim) for example in GALLERY for claim in example.claims]


def test_every_example_states_its_claims():
    assert all(example.claims for example in GALLERY)


@pytest.mark.parametrize(
    ("example", "claim"), CASES, ids=[f"{e.title[:30]}: {c.text}" for e, c in CASES]
)
def test_gallery_claim_holds(example, claim):
    holds, measured = check(example, claim)
    assert holds, f"{example.title}: {claim.text} (measured {measured!r})"
