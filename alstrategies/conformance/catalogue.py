""":data:`CHECKS`: every rule of the query contract, in the order they run and are reported."""

from __future__ import annotations

from alstrategies.conformance.registration import check_registered_name
from alstrategies.conformance.scoring import (
    check_batch_size_independent,
    check_scores_finite_and_aligned,
    check_ties_broken_with_the_generator,
)
from alstrategies.conformance.selection import (
    check_classes_and_non_square_images,
    check_empty_pool_raises,
    check_k_capped_at_pool,
    check_k_distinct_unlabeled,
    check_same_seed_same_selection,
    check_single_unlabeled_image,
)
from alstrategies.conformance.side_effects import check_model_left_unchanged
from alstrategies.conformance.subject import Check

CHECKS: list[Check] = [
    Check("k_distinct", "returns k distinct unlabeled indices", check_k_distinct_unlabeled),
    Check("k_capped", "k larger than the pool returns the whole pool", check_k_capped_at_pool),
    Check("single_unlabeled", "a single unlabeled image is returned", check_single_unlabeled_image),
    Check("deterministic", "the same seed gives the same selection", check_same_seed_same_selection),
    Check("shapes", "2 and 4 classes, non-square images", check_classes_and_non_square_images),
    Check("scores", "scores are finite and aligned; the top k is queried", check_scores_finite_and_aligned),
    Check("ties", "exact ties are broken with the generator", check_ties_broken_with_the_generator),
    Check("empty_pool", "an empty pool raises EmptyPoolError", check_empty_pool_raises),
    Check("model_unchanged", "the model's weights and modes are unchanged", check_model_left_unchanged),
    Check("batch_size", "scores do not depend on the batch size", check_batch_size_independent),
    Check("registered", "is a QueryStrategy named as registered", check_registered_name, per_heads=False),
]
