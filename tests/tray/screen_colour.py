#!/usr/bin/env python3
"""How many pixels of one colour a region of an X screen shows: the Windows tray test's eye on
Wine's notification area (the icon's colour is the component's state).

    screen_colour.py RRGGBB [X Y W H]     (DISPLAY from the environment; default 0 0 400 200)

Prints the count. Reads the root window's pixels (Xlib ZPixmap, 24/32-bit TrueColor).
"""
import sys

from Xlib import X, display


def main():
    want = bytes.fromhex(sys.argv[1])
    x, y, w, h = (int(v) for v in sys.argv[2:6]) if len(sys.argv) >= 6 else (0, 0, 400, 200)
    d = display.Display()
    root = d.screen().root
    geo = root.get_geometry()
    w, h = min(w, geo.width - x), min(h, geo.height - y)
    data = root.get_image(x, y, w, h, X.ZPixmap, 0xFFFFFFFF).data
    # 32 bits per pixel, little-endian BGRX.
    bgr = bytes((want[2], want[1], want[0]))
    print(sum(1 for i in range(0, len(data), 4) if data[i:i + 3] == bgr))


if __name__ == "__main__":
    main()
