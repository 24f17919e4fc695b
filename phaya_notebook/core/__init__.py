"""The async Phaya core: client, request budget, poll scheduler, jobs, media cache, sync facade.

Import from the submodules (``core.client.AsyncPhaya``, ``core.sync.Phaya``, ...); this
package never imports IPython, ipywidgets, pandas or the sandbox's server code.
"""
