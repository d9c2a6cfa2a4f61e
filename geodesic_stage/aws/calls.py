"""One AWS call through botocore, and the one place that turns its failures into ours: a line that
names the service, the endpoint and what to check, never a traceback or a body that may hold secrets."""

from __future__ import annotations

from collections.abc import Callable

import botocore.exceptions as bex
from botocore import xform_name
from botocore.parsers import ResponseParserError

from geodesic_stage import log
from geodesic_stage.errors import AwsError, ConfigError, StageError


class Refused(AwsError):
    """AWS answered the call with an error; `code` says which (ResourceNotFoundException, AccessDenied...)."""

    def __init__(self, message: str, code: str = ""):  # a default: copy.copy() remakes it from its message
        super().__init__(message)
        self.code = code


class Service:
    """How a service is named to a person, and the variable that moves its endpoint."""

    def __init__(self, name: str, endpoint_variable: str, article: str = "a"):
        self.name = name
        self.endpoint_variable = endpoint_variable
        self.article = article


def call(client, service: Service, operation: str, refused: Callable[[str, str], StageError | None] | None = None, **kwargs) -> dict:
    """client.<operation>(**kwargs); `refused(code, message)` may name a sharper error for an AWS refusal
    than Refused, which keeps the code for callers that tell refusals apart."""
    endpoint = client.meta.endpoint_url
    log.debug(f"{service.name} {operation} at {endpoint}")
    try:
        return getattr(client, xform_name(operation))(**kwargs)
    except bex.ClientError as e:
        error = e.response.get("Error", {})
        code, message = printable(error.get("Code", "Unknown")), printable(error.get("Message", ""))
        sharper = refused(code, message) if refused else None
        if sharper is not None:
            raise sharper
        raise Refused(f"{service.name} {operation} was refused at {endpoint}: {code}{': ' + message if message else ''}", code)
    except (bex.EndpointConnectionError, bex.ConnectionError, bex.HTTPClientError) as e:
        raise AwsError(f"cannot reach {service.name} at {endpoint} ({type(e).__name__}); check the network or {service.endpoint_variable}")
    except ResponseParserError:
        # Its text quotes the body, which may hold credentials: name the endpoint only.
        raise AwsError(
            f"{service.name} at {endpoint} answered {operation} with something that is not {service.article} "
            f"{service.name} response; check {service.endpoint_variable}"
        )
    except bex.ParamValidationError as e:
        raise ConfigError(f"{service.name} {operation} would be refused: {printable(str(e).splitlines()[-1])}")
    except bex.NoCredentialsError:
        raise ConfigError(f"no credentials to call {service.name} with; check the source profile")
    except bex.BotoCoreError as e:
        raise AwsError(f"{service.name} {operation} at {endpoint} failed: {type(e).__name__}")


def printable(text) -> str:
    """Text from a server as one printable line: no escape sequences reach the terminal."""
    return "".join(c if c.isprintable() else "?" for c in str(text))[:300]
