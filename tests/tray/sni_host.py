#!/usr/bin/python3
"""A StatusNotifier host for the tray test (run by Debian's python3, which has python3-dbus and
python3-gi): plays org.kde.StatusNotifierWatcher on the session bus, waits for nhi-bridge's item
to register, then reads the item's menu over D-Bus (the com.canonical.dbusmenu interface every
SNI menu speaks) and acts on commands from stdin:

  labels            print the menu's labels as one JSON line
  wait-label TEXT   wait (up to 20 s) until some label contains TEXT, print the labels
  click TEXT        send "clicked" to the item whose label contains TEXT

It prints `registered <service> <path>` once the item is there (or exits 1 after 20 s).
"""
import json
import sys
import threading
import time

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

WATCHER = "org.kde.StatusNotifierWatcher"


class Watcher(dbus.service.Object):
    def __init__(self, bus):
        self.items = []
        self.registered = threading.Event()
        name = dbus.service.BusName(WATCHER, bus)
        super().__init__(name, "/StatusNotifierWatcher")

    @dbus.service.method(WATCHER, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        path = service if service.startswith("/") else "/StatusNotifierItem"
        bus_name = sender if service.startswith("/") else service
        self.items.append((bus_name, path))
        self.StatusNotifierItemRegistered(f"{bus_name}{path}")
        self.registered.set()

    @dbus.service.method(WATCHER, in_signature="s", out_signature="")
    def RegisterStatusNotifierHost(self, service):
        pass

    @dbus.service.signal(WATCHER, signature="s")
    def StatusNotifierItemRegistered(self, item):
        pass

    @dbus.service.signal(WATCHER, signature="")
    def StatusNotifierHostRegistered(self):
        pass

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, interface, prop):
        return self.GetAll(interface)[prop]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return {
            "RegisteredStatusNotifierItems": dbus.Array(
                [f"{b}{p}" for b, p in self.items], signature="s"),
            "IsStatusNotifierHostRegistered": dbus.Boolean(True),
            "ProtocolVersion": dbus.Int32(0),
        }


def labels_of(node, out):
    _id, props, children = node
    if "label" in props:
        out.append((int(_id), str(props["label"])))
    for c in children:
        labels_of(c, out)
    return out


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    watcher = Watcher(bus)
    watcher.StatusNotifierHostRegistered()
    loop = GLib.MainLoop()
    threading.Thread(target=loop.run, daemon=True).start()
    if not watcher.registered.wait(20):
        print("no item registered within 20 s", flush=True)
        sys.exit(1)
    bus_name, path = watcher.items[0]
    item = bus.get_object(bus_name, path)
    props = dbus.Interface(item, dbus.PROPERTIES_IFACE)
    menu_path = props.Get("org.kde.StatusNotifierItem", "Menu")
    menu = dbus.Interface(bus.get_object(bus_name, menu_path), "com.canonical.dbusmenu")
    print(f"registered {bus_name} {path}", flush=True)

    def labels():
        _rev, layout = menu.GetLayout(0, -1, ["label"])
        return labels_of(layout, [])

    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "labels":
            print(json.dumps([l for _, l in labels()], ensure_ascii=False), flush=True)
        elif cmd == "wait-label":
            deadline = time.time() + 20
            while True:
                found = labels()
                if any(arg in l for _, l in found) or time.time() > deadline:
                    break
                time.sleep(0.1)
            print(json.dumps([l for _, l in found], ensure_ascii=False), flush=True)
        elif cmd == "click":
            target = [i for i, l in labels() if arg in l]
            if target:
                menu.Event(target[0], "clicked", dbus.String("", variant_level=1), dbus.UInt32(0))
            print(f"clicked {bool(target)}", flush=True)


if __name__ == "__main__":
    main()
