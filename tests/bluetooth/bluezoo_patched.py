# SPDX-License-Identifier: GPL-2.0-only
# This file imports and changes BlueZoo (GPL-2.0-only) at run time, so it is under BlueZoo's
# licence. It is a test tool run as its own process; it is not part of the tidewell package.
"""BlueZoo with two fixes that make it behave like real BlueZ for a heart-rate central.

Run exactly like the `bluezoo` command (same arguments). BlueZoo 1.0.2 as published:
1. keeps a device's GATT objects exported after Disconnect, so the next Connect fails with
   "sd_bus_add_object_vtable ... returned error number: 17" (EEXIST) and a central can never
   reconnect; it also leaves the peripheral's notifications started. Real BlueZ removes the
   remote GATT objects on disconnect, clears ServicesResolved and, when the last subscriber
   leaves, calls StopNotify on the peripheral's characteristic. This launcher does the same.
2. reports an advertising device only the first time an adapter sees it, so a second scan
   (bleak's reconnect-by-address, a rescan after a dropped sensor) never finds it again. Real
   BlueZ updates the device on every advertisement; here each scan tick re-announces a device
   that is not connected (a PropertiesChanged on UUIDs), which bleak takes as an advertisement.
"""

from __future__ import annotations

import sys
from typing import Any

from bluezoo import bluezoo
from bluezoo.adapter import Adapter
from bluezoo.device import Device
from bluezoo.gatt import GattCharacteristicClientLink
from bluezoo.log import logger

_original_disconnect = Device.disconnect
_original_add_device = Adapter.add_device


async def _release_gatt_links(device: Device) -> None:
    links: dict[str, Any] = device.services
    for path in sorted(links, reverse=True):  # descriptors, then characteristics, then services
        link = links[path]
        if isinstance(link, GattCharacteristicClientLink):
            link.client_props_changed_subscription.unsubscribe()
            if link.client.NotifyAcquired.get() is None and link.client.Notifying.get(False):
                try:
                    await link.client.StopNotify()
                except Exception as error:  # the peripheral may already be gone
                    logger.info(f"StopNotify on {link} after disconnect failed: {error}")
        device.peer_adapter.mock.remove_object(link)
    links.clear()
    if device.services_resolved:
        await device.ServicesResolved.set_async(False)
    if device.peer is not None and device.peer.services_resolved:
        await device.peer.ServicesResolved.set_async(False)


async def disconnect(self: Device, uuid: str | None = None) -> None:
    await _original_disconnect(self, uuid)
    await _release_gatt_links(self)


async def add_device(self: Adapter, device: Device) -> None:
    path = "/".join((self.get_object_path(), f"dev_{device.address.replace(':', '_')}"))
    known = self.devices.get(path)
    await _original_add_device(self, device)
    if known is not None and device.is_le and not known.connected:
        await known.UUIDs.set_async(known.uuids)


def main() -> None:
    Device.disconnect = disconnect  # type: ignore[method-assign]
    Adapter.add_device = add_device  # type: ignore[method-assign]
    bluezoo.main()


if __name__ == "__main__":
    sys.exit(main())
