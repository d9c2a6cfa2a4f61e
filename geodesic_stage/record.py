"""Small immutable values (Profile, Stage, Credentials, ...), declared as a dataclass is:

    class RoleLink(Record):
        profile: str
        mfa_serial: str | None = None

The fields are the annotated names in order (a subclass's after its base's); a class attribute
of the same name is the default. A record compares and hashes by value, refuses assignment, and
keeps the fields named in `_secret` out of its repr. This is the part of @dataclass(frozen=True)
the package uses: importing dataclasses (which brings inspect, ast and dis) and building its
classes cost a cached `stage use` more than all of its own work.
"""


class Record:
    _fields: tuple = ()
    _defaults: dict = {}
    _secret: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = [name for name in cls.__dict__.get("__annotations__", {}) if not name.startswith("_")]
        cls._fields = cls._fields + tuple(name for name in own if name not in cls._fields)
        cls._defaults = {**cls._defaults, **{name: cls.__dict__[name] for name in own if name in cls.__dict__}}

    def __init__(self, *args, **kwargs):
        name = type(self).__name__
        if len(args) > len(self._fields):
            raise TypeError(f"{name} takes at most {len(self._fields)} fields, got {len(args)}")
        values = dict(zip(self._fields, args))
        for key in kwargs:
            if key in values or key not in self._fields:
                raise TypeError(f"{name}: {key!r} is given twice or is not a field")
        values.update(kwargs)
        for key in self._fields:
            if key not in values:
                if key not in self._defaults:
                    raise TypeError(f"{name} needs {key!r}")
                values[key] = self._defaults[key]
        object.__setattr__(self, "__dict__", values)

    def __setattr__(self, key, value):
        raise AttributeError(f"{type(self).__name__} is immutable; use record.replace()")

    def __delattr__(self, key):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self):
        return hash(tuple(self.__dict__.values()))

    def __repr__(self):
        shown = ", ".join(f"{key}={value!r}" for key, value in self.__dict__.items() if key not in self._secret)
        return f"{type(self).__name__}({shown})"


def replace(record: Record, **changes) -> Record:
    """A copy of `record` with `changes`, as dataclasses.replace makes one."""
    return type(record)(**{**record.__dict__, **changes})
