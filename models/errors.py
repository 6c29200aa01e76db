"""Domain errors: a broken rule names a message key; templates turn it into words."""


class RuleError(Exception):
    """A rule refused. `key` names its words: "requests.unknown" in templates/blocks/requests/errors.yaml.j2,
    any other key in templates/blocks/error.yaml.j2 (handlers.common.rule_error_message picks the file)."""

    def __init__(self, key: str, **params):
        super().__init__(key)
        self.key = key
        self.params = params
