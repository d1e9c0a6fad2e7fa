"""Getting a worker its own credentials once, before it runs as a service.

`flamenco worker install-service --token T | --pair CODE` registers (or pairs) here, at
install time, and stores the worker's id and secret in its work dir as a first start
would; the service then runs without either, so no farm token or code ever appears in a
unit file, a plist or a task definition. Without --token/--pair the stored credentials
must already work.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import aiohttp

from flamenco_gui.worker.agent import WORKER_PATH, WorkerConfig, registration_body
from flamenco_gui.worker.client import Credentials, ManagerClient, ManagerUnreachable
from flamenco_gui.worker.joining import resolve_manager


class EnrolFailed(Exception):
    """The manager could not be reached or refused this worker; the text says which."""


async def enrol(config: WorkerConfig) -> Credentials:
    """Credentials that the manager accepts now, stored in the work dir."""
    stored = Credentials.load(config.credentials_path)
    url = await resolve_manager(config.manager, stored, config.discovery_timeout)
    config = replace(config, manager=url)
    async with aiohttp.ClientSession() as session:
        client = ManagerClient(
            session,
            url,
            config.token,
            config.credentials_path,
            functools.partial(registration_body, config),
        )
        try:
            if config.pair_code:
                await client.pair(config.pair_code, await registration_body(config))
            # Registers first when there is a farm token and no usable secret; checks
            # the secret either way (a 401 with no token raises TokenRefused).
            reply = await client.call("GET", WORKER_PATH)
        except ManagerUnreachable as exc:
            raise EnrolFailed(f"manager {url} did not answer: {exc}") from None
        if not reply.ok:
            raise EnrolFailed(f"manager {url} refused this worker: {reply.error}")
    creds = Credentials.load(config.credentials_path)
    if creds is None:  # pragma: no cover - registration always stores them
        raise EnrolFailed(f"no credentials were stored in {config.credentials_path}")
    return creds
