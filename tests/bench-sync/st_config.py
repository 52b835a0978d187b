#!/usr/bin/env python3
"""Sets up a generated Syncthing config.xml for the loopback bench.

  st_config.py CONFIG GUI_PORT LISTEN_PORT API_KEY PEER_ID PEER_PORT FOLDER_PATH TYPE

Everything external is turned off (global and local discovery, relays,
NAT traversal, usage reporting, crash reports, upgrades, the browser); the
device listens on 127.0.0.1 only; the peer is added with its address; one
folder `bench` of TYPE (sendonly or receiveonly), shared with the peer,
built from the config's own folder defaults so every field has its default.
"""
import copy
import sys
import xml.etree.ElementTree as ET

config, gui_port, listen_port, api_key, peer_id, peer_port, path, kind = sys.argv[1:9]
tree = ET.parse(config)
root = tree.getroot()

gui = root.find("gui")
gui.find("address").text = f"127.0.0.1:{gui_port}"
gui.find("apikey").text = api_key

opts = root.find("options")
settings = {
    "listenAddress": f"tcp://127.0.0.1:{listen_port}",
    "globalAnnounceEnabled": "false",
    "localAnnounceEnabled": "false",
    "relaysEnabled": "false",
    "natEnabled": "false",
    "urAccepted": "-1",
    "autoUpgradeIntervalH": "0",
    "crashReportingEnabled": "false",
    "startBrowser": "false",
    "stunServer": "",
}
for key, value in settings.items():
    el = opts.find(key)
    if el is None:
        el = ET.SubElement(opts, key)
    el.text = value

me = root.find("device")
peer = copy.deepcopy(me)
peer.set("id", peer_id)
peer.set("name", "peer")
for a in peer.findall("address"):
    peer.remove(a)
ET.SubElement(peer, "address").text = f"tcp://127.0.0.1:{peer_port}"
root.insert(list(root).index(me) + 1, peer)

folder = copy.deepcopy(root.find("defaults").find("folder"))
folder.set("id", "bench")
folder.set("label", "bench")
folder.set("path", path)
folder.set("type", kind)
folder.set("fsWatcherDelayS", "10")  # Syncthing's default; the bench sets 1 later
dev = copy.deepcopy(folder.find("device"))
dev.set("id", peer_id)
folder.append(dev)
root.insert(0, folder)
tree.write(config)
