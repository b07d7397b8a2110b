"""The base of every training-loop extension: a hook name, ``exec`` and ``on_record``."""
__all__ = ["Extension"]


class Extension:
    """Base class: ``name`` is the hook, ``exec(mainloop)`` the action."""

    name = None

    def exec(self, mainloop):
        """Act at the hook ``name`` (default: nothing)."""

    def on_record(self, mainloop, record):
        """React to a new monitoring ``record`` (dict channel -> value; default: nothing)."""

    def state_dict(self):
        """JSON-ready state a resumed run needs (default: none)."""
        return {}

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned."""


def _check_number(state, key, kind=(int, float)):
    """Raise ValueError unless ``state[key]`` is absent, None or a number of ``kind``."""
    value = state.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
        raise ValueError(f"saved {key} must be a number, got {value!r}")
