"""Domain errors: a broken rule names a message key; templates turn it into words."""


class RuleError(Exception):
    """A rule refused. `key` names the message in templates/blocks/errors.yaml.j2."""

    def __init__(self, key: str, **params):
        super().__init__(key)
        self.key = key
        self.params = params
