"""PyInstaller runtime hook: make sounddevice load the PortAudio bundled with the app.

On Linux, sounddevice finds PortAudio only through `ctypes.util.find_library("portaudio")`, which
asks the system (ldconfig) and never looks inside the bundle; without the distribution's
libportaudio2 package `import sounddevice` would fail. Runs before any app code is imported.
"""

import ctypes.util
import os
import sys

_BUNDLED_PORTAUDIO = os.path.join(getattr(sys, "_MEIPASS", ""), "libportaudio.so.2")

if sys.platform.startswith("linux") and os.path.isfile(_BUNDLED_PORTAUDIO):
    _system_find_library = ctypes.util.find_library

    def _find_library(name: str) -> str | None:
        if name == "portaudio":
            return _BUNDLED_PORTAUDIO
        return _system_find_library(name)

    ctypes.util.find_library = _find_library
