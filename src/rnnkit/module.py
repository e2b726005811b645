"""Parameters and modules: the containers every layer is built from.

A :class:`Parameter` holds a learned array ``data`` and the gradient ``grad`` that
``backward`` accumulates into it. A :class:`Module` owns parameters and child modules,
names them with dotted paths (``"encoder.weight_ih_l0"``), and knows whether it is training.

Gradients accumulate, as in PyTorch: two ``backward`` calls add their contributions, and
``zero_grad()`` resets them.

>>> import numpy as np
>>> p = Parameter(np.ones((2, 3)))
>>> p.grad.shape, float(p.grad.sum())
((2, 3), 0.0)
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Iterator

import numpy as np

from rnnkit._validate import check_dtype, make_rng
from rnnkit.grad_mode import FAILED_FORWARD, NO_CACHE, is_grad_enabled, no_grad
from rnnkit.workspace import Workspace

# Every Module subclass by class name, so that rnnkit.load can rebuild one from a file.
MODULE_REGISTRY: dict[str, type] = {}


class Parameter:
    """A learned array and its accumulated gradient.

    Attributes
    ----------
    data : ndarray
        The values. Optimisers update it in place.
    grad : ndarray
        dLoss/d(data), same shape and dtype, zero until a backward pass adds to it.
    requires_grad : bool
        False for frozen parameters: backward leaves ``grad`` alone and optimisers skip them.
    """

    def __init__(self, data: np.ndarray, requires_grad: bool = True):
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)
        self.requires_grad = requires_grad

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and model.

    Subclasses assign :class:`Parameter` and :class:`Module` attributes in ``__init__``;
    they are registered in assignment order, which fixes the order of ``named_parameters``
    and ``state_dict``. Subclasses implement ``forward`` (caching what backward needs) and
    ``backward`` (taking the gradient of the loss with respect to the output, adding the
    parameter gradients to ``.grad`` and returning the gradient with respect to the input).

    Subclasses also store the constructor's keyword arguments in ``self.config`` so that
    ``rnnkit.save`` / ``rnnkit.load`` can rebuild them.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        MODULE_REGISTRY[cls.__name__] = cls

    def __init__(self, dtype: Any = np.float32, seed: int | np.random.Generator | None = None):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        self.training = True
        self.dtype = check_dtype(dtype)
        self.rng = make_rng(seed)
        self.config: dict[str, Any] = {}

    # --- registration -------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning "
                f"attribute {name!r}"
            )
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    # --- traversal ----------------------------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, Parameter)`` for this module and its children, in order."""
        for name, parameter in self._parameters.items():
            yield prefix + name, parameter
        for name, module in self._modules.items():
            yield from module.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [parameter for _, parameter in self.named_parameters()]

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix.rstrip("."), self
        for name, module in self._modules.items():
            yield from module.named_modules(prefix + name + ".")

    def free_work_arrays(self) -> int:
        """Release the work arrays this module's recurrent layers keep for their next call
        (:mod:`rnnkit.workspace`); returns the bytes that no array refers to any more."""
        return sum(module.workspace.clear() for _, module in self.named_modules()
                   if isinstance(getattr(module, "workspace", None), Workspace))

    def num_parameters(self) -> int:
        return sum(parameter.data.size for parameter in self.parameters())

    # --- state --------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Name -> a copy of the parameter's array."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy arrays into the parameters, casting to this module's dtype.

        Everything is checked before anything is written, so a refused state dict leaves the
        module as it was. With ``strict=True`` missing and unexpected names are errors; with
        ``strict=False`` they are skipped, but a present name with a wrong shape is still an
        error.
        """
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict expected a dict of name -> array, got {type(state).__name__}")
        own = OrderedDict(self.named_parameters())
        missing = [name for name in own if name not in state]
        unexpected = [name for name in state if name not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        arrays = {}
        for name, parameter in own.items():
            if name not in state:
                continue
            try:
                array = np.asarray(state[name])
            except (ValueError, TypeError):
                problems.append(f"{name}: expected a real array, got {type(state[name]).__name__} "
                                f"that is not a rectangular array")
                continue
            if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
                problems.append(f"{name}: expected a real array, got dtype {array.dtype}")
            elif array.shape != parameter.shape:
                problems.append(f"{name}: expected shape {parameter.shape}, got {array.shape}")
            elif not np.all(np.isfinite(array)):
                problems.append(f"{name}: contains NaN or infinite values")
            else:
                with np.errstate(over="ignore"):
                    cast = array.astype(parameter.dtype)
                if not np.all(np.isfinite(cast)):
                    problems.append(f"{name}: values overflow {parameter.dtype} "
                                    f"(largest magnitude {np.max(np.abs(array))!r})")
                else:
                    arrays[name] = cast
        if problems:
            raise ValueError(f"cannot load state dict into {type(self).__name__}: " + "; ".join(problems))
        for name, array in arrays.items():
            own[name].data[...] = array

    def zero_grad(self) -> None:
        for parameter in self.parameters():
            parameter.zero_grad()

    # --- modes --------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for _, module in self.named_modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    @contextlib.contextmanager
    def inference(self) -> Iterator["Module"]:
        """Eval mode and :func:`rnnkit.no_grad` inside the block; the previous mode after it.

        >>> import rnnkit
        >>> lstm = rnnkit.LSTM(2, 3)
        >>> with lstm.inference():
        ...     lstm.training, rnnkit.is_grad_enabled()
        (False, False)
        >>> lstm.training, rnnkit.is_grad_enabled()
        (True, True)
        """
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                yield self
        finally:
            self.train(was_training)

    # --- computation --------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``forward``; if it raises, no module of this tree keeps a cache for ``backward``.

        A forward that fails halfway would otherwise leave the modules it had reached holding
        the new batch and the others the previous one, and a later backward would mix them.
        """
        try:
            return self.forward(*args, **kwargs)
        except BaseException:
            for _, module in self.named_modules():
                if hasattr(module, "_cache"):
                    module._cache = FAILED_FORWARD
            raise

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.config.items())

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()})"]
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        return "\n".join(lines)

    @staticmethod
    def _keep(cache: Any) -> Any:
        """What forward stores for backward: ``cache``, or a marker under :func:`rnnkit.no_grad`."""
        return cache if is_grad_enabled() else NO_CACHE

    def _require_cache(self, cache: Any) -> Any:
        """Return ``cache``, or raise the error for a backward with nothing to work from."""
        if cache is None:
            raise ValueError(f"{type(self).__name__}.backward called before forward: call forward first")
        if cache is NO_CACHE:
            raise ValueError(f"{type(self).__name__}.backward: the last forward ran under rnnkit.no_grad() and "
                             f"kept nothing for backward; run forward again outside no_grad")
        if cache is FAILED_FORWARD:
            raise ValueError(f"{type(self).__name__}.backward: the last forward raised an error and kept nothing "
                             f"for backward; run forward again")
        return cache
