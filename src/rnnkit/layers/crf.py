"""A linear-chain conditional random field: the output layer of a BiLSTM-CRF tagger.

Glossary: B batch, T time, K tags.

A tagger's recurrent layer scores each tag at each step (the *emissions* E, (B, T, K)); the
CRF adds a learned score for each pair of consecutive tags, so the best *sequence* is chosen,
not the best tag at each step on its own (a softmax tagger may predict ``O I-PER``; a CRF with
BIO constraints never does).

For one sequence of length L with tags y_0 .. y_{L-1}::

    score(y) = start[y_0] + sum_{t<L} E[t, y_t] + sum_{1<=t<L} A[y_{t-1}, y_t] + end[y_{L-1}]
    p(y | E)  = exp(score(y)) / Z,     log Z = log sum_{y'} exp(score(y'))

``A`` (K, K) is ``transitions``: A[i, j] scores tag i followed by tag j (pytorch-crf's layout).

Forward algorithm (log space), for 1 <= t < L::

    alpha_0[j] = start[j] + E[0, j]
    alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + A[i, j]) + E[t, j]
    log Z      = logsumexp_j(alpha_{L-1}[j] + end[j])

Backward algorithm, for t < L - 1::

    beta_{L-1}[i] = end[i]
    beta_t[i]     = logsumexp_j(A[i, j] + E[t+1, j] + beta_{t+1}[j])

Marginals and the gradient of the negative log-likelihood ``nll = log Z - score(gold)``::

    p(y_t = i)                 = exp(alpha_t[i] + beta_t[i] - log Z)
    p(y_{t-1} = i, y_t = j)    = exp(alpha_{t-1}[i] + A[i, j] + E[t, j] + beta_t[j] - log Z)
    d nll / d E[t, i]          = p(y_t = i) - [gold_t == i]
    d nll / d A[i, j]          = sum_{1<=t<L} p(y_{t-1} = i, y_t = j) - #{t: gold_{t-1} = i, gold_t = j}
    d nll / d start[i]         = p(y_0 = i) - [gold_0 == i]
    d nll / d end[i]           = p(y_{L-1} = i) - [gold_{L-1} == i]

Viterbi replaces logsumexp by max (and keeps the arg max to trace the best path back).

Constraints: a boolean ``allowed`` (K, K) and ``allowed_start`` (K,) forbid transitions by adding
-inf to their scores, in training and in decoding. :func:`bio_constraints` builds them from BIO
tag names (``O -> I-X``, ``B-X -> I-Y``, ``I-X -> I-Y`` and a start on ``I-X`` are forbidden).

Variable lengths come as a (B, T) boolean ``mask``: each row is True on its first L steps and
False after (``mask[:, 0]`` must be all True: every sequence has at least one step).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rnnkit._validate import as_float_array, as_index_array, check_choice, check_positive_int
from rnnkit.grad_mode import is_grad_enabled
from rnnkit.module import Module, Parameter

REDUCTIONS = ("mean", "sum", "token_mean")


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(x))) along ``axis``, with the maximum subtracted first; all -inf gives -inf.

    >>> round(float(logsumexp(np.array([1000.0, 1000.0]), axis=0)) - 1000.0, 6)   # ln 2, no overflow
    0.693147
    >>> float(logsumexp(np.array([-np.inf, -np.inf]), axis=0))
    -inf
    """
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)                    # an all -inf slice stays -inf, not NaN
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(x - peak), axis=axis)) + np.squeeze(peak, axis=axis)


def bio_constraints(tag_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(allowed (K, K), allowed_start (K,))`` for BIO tags: ``I-X`` only after ``B-X`` or ``I-X``.

    Every tag must be ``O``, ``B-X`` or ``I-X``; anything else is an error naming the tag.

    >>> allowed, start = bio_constraints(["B-PER", "I-PER", "O"])
    >>> allowed.astype(int).tolist()      # rows: from, columns: to
    [[1, 1, 1], [1, 1, 1], [1, 0, 1]]
    >>> start.astype(int).tolist()
    [1, 0, 1]
    """
    kinds = []
    for tag in tag_names:
        if tag == "O":
            kinds.append(("O", None))
        elif len(tag) > 2 and tag[:2] in ("B-", "I-"):
            kinds.append((tag[0], tag[2:]))
        else:
            raise ValueError(f"BIO constraints need every tag to be O, B-X or I-X, got tag {tag!r} "
                             f"(tags: {list(tag_names)}); train without the constraints for other tag sets")
    size = len(kinds)
    allowed = np.ones((size, size), dtype=bool)
    start = np.ones(size, dtype=bool)
    for j, (kind_to, type_to) in enumerate(kinds):
        if kind_to != "I":
            continue
        start[j] = False
        for i, (kind_from, type_from) in enumerate(kinds):
            allowed[i, j] = kind_from in ("B", "I") and type_from == type_to
    return allowed, start


def check_mask(mask: Any, batch: int, steps: int) -> np.ndarray:
    """``mask`` as bool (B, T), each row True on a prefix of at least one step; None: all True."""
    if mask is None:
        return np.ones((batch, steps), dtype=bool)
    array = np.asarray(mask)
    if array.shape != (batch, steps):
        raise ValueError(f"mask must have shape (B, T) = {(batch, steps)}, got {array.shape}")
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.integer) or not np.isin(array, (0, 1)).all():
            raise TypeError(f"mask must be boolean (or 0/1 integers), got dtype {array.dtype}")
        array = array.astype(bool)
    if steps == 0 or not array[:, 0].all():
        raise ValueError("mask[:, 0] must be all True: every sequence needs at least one step "
                         f"(rows {np.flatnonzero(~array[:, 0]).tolist() if steps else []} start with padding)")
    if np.any(array[:, 1:] & ~array[:, :-1]):
        row = int(np.flatnonzero(np.any(array[:, 1:] & ~array[:, :-1], axis=1))[0])
        raise ValueError(f"mask rows must be True on a prefix and False after it (left-aligned sequences); "
                         f"row {row} is {array[row].astype(int).tolist()}")
    return array


class CRF(Module):
    """A linear-chain CRF over K tags: ``nll`` (training) and ``decode`` (Viterbi).

    Parameters
    ----------
    num_tags : int
        K.
    allowed : array_like of bool (K, K), optional
        ``allowed[i, j]`` False forbids tag i followed by tag j (score -inf).
    allowed_start, allowed_end : array_like of bool (K,), optional
        False forbids a sequence starting (ending) with that tag.
    dtype, seed
        Parameters ``start_transitions`` (K,), ``end_transitions`` (K,) and ``transitions``
        (K, K) start uniform in (-0.1, 0.1), as in pytorch-crf.

    ``CRF.with_bio_constraints(tag_names)`` builds one with :func:`bio_constraints`.

    Shapes
    ------
    ``nll(emissions (B, T, K), tags (B, T), mask (B, T))`` returns ``(loss, d_emissions (B, T, K))``
    and adds the gradients of the three parameters into their ``.grad`` (not under
    :func:`rnnkit.no_grad`). ``decode(emissions, mask)`` returns int64 (B, T), -1 past each length.

    Examples
    --------
    >>> crf = CRF(3, seed=0)
    >>> emissions = np.random.default_rng(0).standard_normal((2, 4, 3))
    >>> mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=bool)
    >>> loss, d_emissions = crf.nll(emissions, np.array([[0, 1, 2, 1], [2, 2, -1, -1]]), mask)
    >>> d_emissions.shape, float(np.abs(d_emissions[1, 2:]).sum())     # padding gets no gradient
    ((2, 4, 3), 0.0)
    >>> crf.decode(emissions, mask)[1].tolist()[2:]
    [-1, -1]
    """

    def __init__(self, num_tags: int, allowed: Any = None, allowed_start: Any = None, allowed_end: Any = None,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.num_tags = check_positive_int(num_tags, "num_tags")
        size = self.num_tags
        self.allowed = self._constraint(allowed, (size, size), "allowed")
        self.allowed_start = self._constraint(allowed_start, (size,), "allowed_start")
        self.allowed_end = self._constraint(allowed_end, (size,), "allowed_end")
        if not self.allowed_start.any() or not self.allowed_end.any():
            raise ValueError("allowed_start and allowed_end must allow at least one tag each")
        self.config = {"num_tags": size,
                       "allowed": None if allowed is None else self.allowed.tolist(),
                       "allowed_start": None if allowed_start is None else self.allowed_start.tolist(),
                       "allowed_end": None if allowed_end is None else self.allowed_end.tolist()}
        self.start_transitions = Parameter(self.rng.uniform(-0.1, 0.1, size).astype(self.dtype))
        self.end_transitions = Parameter(self.rng.uniform(-0.1, 0.1, size).astype(self.dtype))
        self.transitions = Parameter(self.rng.uniform(-0.1, 0.1, (size, size)).astype(self.dtype))

    @classmethod
    def with_bio_constraints(cls, tag_names: Sequence[str], dtype: Any = np.float32, seed: Any = None) -> "CRF":
        """A CRF over ``tag_names`` that forbids the transitions BIO does not allow."""
        allowed, start = bio_constraints(tag_names)
        return cls(len(tag_names), allowed=allowed, allowed_start=start, dtype=dtype, seed=seed)

    @staticmethod
    def _constraint(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
        if value is None:
            return np.ones(shape, dtype=bool)
        array = np.asarray(value)
        if array.shape != shape or array.dtype != bool:
            raise ValueError(f"{name} must be a boolean array of shape {shape}, got {array.dtype} {array.shape}")
        return array.copy()

    # --- the scores with the constraints applied (float64) -------------------------------------
    def _scores(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """start (K,), transitions (K, K), end (K,) in float64, -inf where forbidden."""
        start = np.where(self.allowed_start, self.start_transitions.data.astype(np.float64), -np.inf)
        transitions = np.where(self.allowed, self.transitions.data.astype(np.float64), -np.inf)
        end = np.where(self.allowed_end, self.end_transitions.data.astype(np.float64), -np.inf)
        return start, transitions, end

    def _inputs(self, emissions: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
        emissions = as_float_array(emissions, "emissions", np.float64, (None, None, self.num_tags), "(B, T, K)")
        batch, steps, _ = emissions.shape
        if batch == 0:
            raise ValueError("emissions must hold at least one sequence (B >= 1), got B = 0")
        return emissions, check_mask(mask, batch, steps)

    def forward_algorithm(self, emissions: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``alphas`` (B, T, K) (each row frozen after its last step) and ``log Z`` (B,)."""
        start, transitions, end = self._scores()
        batch, steps, size = emissions.shape
        alphas = np.empty((batch, steps, size))
        alphas[:, 0] = start + emissions[:, 0]                                      # (B, K)
        for t in range(1, steps):
            # (B, K_from, 1) + (K_from, K_to) -> logsumexp over K_from -> (B, K_to)
            step = logsumexp(alphas[:, t - 1, :, None] + transitions, axis=1) + emissions[:, t]
            alphas[:, t] = np.where(mask[:, t, None], step, alphas[:, t - 1])
        log_z = logsumexp(alphas[:, -1] + end, axis=1)                             # (B,)
        return alphas, log_z

    def backward_algorithm(self, emissions: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``betas`` (B, T, K): beta_t at t < L, ``end`` at and after each row's last step."""
        _, transitions, end = self._scores()
        batch, steps, size = emissions.shape
        betas = np.empty((batch, steps, size))
        betas[:, -1] = end
        for t in range(steps - 2, -1, -1):
            # (K_from, K_to) + (B, 1, K_to) -> logsumexp over K_to -> (B, K_from)
            step = logsumexp(transitions + (emissions[:, t + 1] + betas[:, t + 1])[:, None, :], axis=2)
            betas[:, t] = np.where(mask[:, t + 1, None], step, end)
        return betas

    def score(self, emissions: np.ndarray, tags: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """score(gold) (B,) of the tag paths (valid steps only)."""
        start, transitions, end = self._scores()
        batch, steps, _ = emissions.shape
        lengths = mask.sum(axis=1)
        rows = np.arange(batch)
        safe = np.where(mask, tags, 0)
        unary = np.take_along_axis(emissions, safe[..., None], axis=2)[..., 0]              # (B, T)
        total = start[safe[:, 0]] + np.sum(unary * mask, axis=1)
        if steps > 1:
            pairs = transitions[safe[:, :-1], safe[:, 1:]]                                 # (B, T-1)
            total = total + np.sum(np.where(mask[:, 1:], pairs, 0.0), axis=1)
        return total + end[safe[rows, lengths - 1]]

    def _check_tags(self, tags: Any, mask: np.ndarray) -> np.ndarray:
        tags = as_index_array(tags, "tags")
        if tags.shape != mask.shape:
            raise ValueError(f"tags must have shape (B, T) = {mask.shape}, got {tags.shape}")
        as_index_array(tags[mask], "tags", upper=self.num_tags)                  # only valid steps need real tags
        return np.where(mask, tags, 0)

    def _check_allowed_paths(self, tags: np.ndarray, mask: np.ndarray) -> None:
        """A gold path through a forbidden transition has probability 0: say where it is."""
        lengths = mask.sum(axis=1)
        rows = np.arange(len(tags))
        bad_start = ~self.allowed_start[tags[:, 0]]
        bad_end = ~self.allowed_end[tags[rows, lengths - 1]]
        bad_pair = mask[:, 1:] & ~self.allowed[tags[:, :-1], tags[:, 1:]] if tags.shape[1] > 1 else \
            np.zeros((len(tags), 0), dtype=bool)
        if bad_start.any() or bad_end.any() or bad_pair.any():
            if bad_pair.any():
                row, t = map(int, np.argwhere(bad_pair)[0])
                where = f"row {row}: tag {int(tags[row, t])} followed by tag {int(tags[row, t + 1])} at step {t + 1}"
            elif bad_start.any():
                row = int(np.flatnonzero(bad_start)[0])
                where = f"row {row} starts with tag {int(tags[row, 0])}"
            else:
                row = int(np.flatnonzero(bad_end)[0])
                where = f"row {row} ends with tag {int(tags[row, lengths[row] - 1])}"
            raise ValueError(f"the gold tags take a transition the CRF's constraints forbid ({where}); "
                             f"fix the tags (e.g. repair BIO: an I-X that does not follow B-X or I-X becomes B-X) "
                             f"or train without constraints")

    # --- training ------------------------------------------------------------------------------
    def nll(self, emissions: Any, tags: Any, mask: Any = None, reduction: str = "mean") -> tuple[float, np.ndarray]:
        """Negative log-likelihood of ``tags`` and its gradient with respect to ``emissions``.

        Parameters
        ----------
        emissions : (B, T, K) float32 or float64
        tags : (B, T) int, in [0, K) at the valid steps (anything, e.g. -1, at padded ones)
        mask : (B, T) bool or None (all steps valid)
        reduction : {"mean", "sum", "token_mean"}
            "mean" averages over the B sequences (pytorch-crf's "mean"), "token_mean" over the
            valid tokens, "sum" adds.

        Returns
        -------
        loss : float
        d_emissions : (B, T, K) in the dtype of ``emissions``; zero at padded steps.

        The gradients of ``start_transitions``, ``end_transitions`` and ``transitions`` are added
        to their ``.grad`` (unless under :func:`rnnkit.no_grad`). The arithmetic is float64.
        """
        check_choice(reduction, "reduction", REDUCTIONS)
        dtype = np.asarray(emissions).dtype if np.asarray(emissions).dtype in (np.float32, np.float64) \
            else np.dtype(np.float64)
        emissions, mask = self._inputs(emissions, mask)
        tags = self._check_tags(tags, mask)
        self._check_allowed_paths(tags, mask)
        batch, steps, size = emissions.shape
        alphas, log_z = self.forward_algorithm(emissions, mask)
        gold = self.score(emissions, tags, mask)
        per_sequence = log_z - gold                                                 # (B,)
        divisor = {"sum": 1.0, "mean": float(batch), "token_mean": float(mask.sum())}[reduction]
        loss = float(per_sequence.sum() / divisor)

        betas = self.backward_algorithm(emissions, mask)
        _, transitions, _ = self._scores()
        # unary marginals p(y_t = i) (B, T, K), zero on padding
        unary = np.exp(np.where(mask[..., None], alphas + betas - log_z[:, None, None], -np.inf))
        gold_onehot = np.zeros_like(unary)
        np.put_along_axis(gold_onehot, tags[..., None], 1.0, axis=2)
        gold_onehot *= mask[..., None]
        d_emissions = (unary - gold_onehot) / divisor
        if is_grad_enabled():
            lengths = mask.sum(axis=1)
            rows = np.arange(batch)
            d_start = unary[:, 0] - gold_onehot[:, 0]                                 # (B, K)
            last_unary = unary[rows, lengths - 1]
            d_end = last_unary - gold_onehot[rows, lengths - 1]
            d_transitions = np.zeros((size, size))
            if steps > 1:
                # pair marginals (B, T-1, K_from, K_to) at steps 1..T-1
                pair_logs = (alphas[:, :-1, :, None] + transitions + (emissions[:, 1:] + betas[:, 1:])[:, :, None, :]
                             - log_z[:, None, None, None])
                pairs = np.exp(np.where(mask[:, 1:, None, None], pair_logs, -np.inf))   # padding: exp(-inf) = 0
                d_transitions = pairs.sum(axis=(0, 1))
                counts = np.zeros((size, size))
                valid = mask[:, 1:]
                np.add.at(counts, (tags[:, :-1][valid], tags[:, 1:][valid]), 1.0)
                d_transitions -= counts
            for parameter, gradient in ((self.start_transitions, d_start.sum(axis=0)),
                                        (self.end_transitions, d_end.sum(axis=0)),
                                        (self.transitions, d_transitions)):
                if parameter.requires_grad:
                    parameter.grad += (gradient / divisor).astype(self.dtype)
        return loss, d_emissions.astype(dtype)

    def log_likelihood(self, emissions: Any, tags: Any, mask: Any = None) -> np.ndarray:
        """log p(tags | emissions) per sequence (B,), float64; no gradients."""
        emissions, mask = self._inputs(emissions, mask)
        tags = self._check_tags(tags, mask)
        _, log_z = self.forward_algorithm(emissions, mask)
        return self.score(emissions, tags, mask) - log_z

    # --- decoding ------------------------------------------------------------------------------
    def decode(self, emissions: Any, mask: Any = None) -> np.ndarray:
        """The most probable tag path of each sequence (Viterbi), int64 (B, T), -1 past each length.

        ::

            delta_0[j] = start[j] + E[0, j]
            delta_t[j] = max_i(delta_{t-1}[i] + A[i, j]) + E[t, j],  back_t[j] = its arg max i
            y_{L-1}    = argmax_j(delta_{L-1}[j] + end[j]),            y_{t-1} = back_t[y_t]
        """
        emissions, mask = self._inputs(emissions, mask)
        start, transitions, end = self._scores()
        batch, steps, size = emissions.shape
        delta = start + emissions[:, 0]                                             # (B, K)
        back = np.zeros((batch, steps, size), dtype=np.int64)
        for t in range(1, steps):
            candidates = delta[:, :, None] + transitions                              # (B, K_from, K_to)
            best_from = np.argmax(candidates, axis=1)                                # (B, K_to)
            step = np.take_along_axis(candidates, best_from[:, None, :], axis=1)[:, 0] + emissions[:, t]
            delta = np.where(mask[:, t, None], step, delta)
            back[:, t] = best_from
        lengths = mask.sum(axis=1)
        last = np.argmax(delta + end, axis=1)                                       # (B,)
        path = np.full((batch, steps), -1, dtype=np.int64)
        rows = np.arange(batch)
        current = last.copy()
        for t in range(steps - 1, -1, -1):
            current = np.where(lengths - 1 == t, last, current)
            active = t < lengths
            path[active, t] = current[active]
            if t > 0:
                current = np.where(active, back[rows, t, current], current)
        return path
