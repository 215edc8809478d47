"""Values: plain data and the parsers of its grammar, imported by every other part.

Nothing here imports another part of the package. ``text`` (one format for
details), ``syntax`` (scope and header tokens), ``uri`` (a request's URI and
origin from validated parts), ``strictjson`` (the bounded JSON reader),
``resourceid`` (RFC 8707 resource identifiers), ``locationspec`` (the token
locations a setting names), ``algorithms`` and ``idpnames`` (names settings
accept), ``fieldtypes`` and ``settingsenv`` (a setting's type, the environment
read).
"""
