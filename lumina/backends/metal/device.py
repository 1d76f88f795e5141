"""The ``metal`` device: run kernels rendered by ``backends.metal.msl`` on an Apple GPU through PyObjC's
Metal bindings (``pip install pyobjc-framework-Metal``, macOS only).

    ok, why = available()            # (False, "...") on Linux, without PyObjC, or without a GPU
    run = launcher(desc)             # compiles the kernel's MSL once (fast math off)
    run(buffers)                     # flat NumPy arrays in desc.buffers order; outputs written in place

Each call copies the buffers into shared-storage ``MTLBuffer``s, encodes one
``dispatchThreadgroups`` with ``backends.metal.msl.geometry(desc)``, waits for the command buffer and
copies the outputs back (a kernel with more than 31 buffers gets them through one argument
buffer of ``gpuAddress`` values, which needs Metal 3: macOS 13 on Apple silicon). That is the whole contract: no arena, no asynchronous queue; the device
registry and executable plan built on top decide how buffers live. Kernels with float64 values
(``backends.metal.msl.uses_float64``) cannot run on Metal: ``launcher`` raises ``LuminaCodegenError``.

The library is compiled with fast math disabled: Metal's default fast math lets the compiler
assume no NaN or infinity, which would fold away the NaN propagation of max/min and ``isnan``.

This module cannot be exercised on the Linux CI machines; there ``available()`` says why and
``launcher`` raises ``LuminaDeviceError`` with that reason.
"""
from __future__ import annotations

import functools
import platform
from collections.abc import Callable

import numpy as np

from . import msl
from ...errors import LuminaCodegenError, LuminaDeviceError


@functools.lru_cache(maxsize=1)
def _device():
    """``(MTLDevice, Metal module)`` or ``(None, reason)``."""
    if platform.system() != "Darwin":
        return None, f"metal: the Metal device needs macOS; this is {platform.system()}"
    try:
        import Metal  # PyObjC's bindings
    except ImportError as exc:
        return None, f"metal: PyObjC's Metal bindings are not installed (pip install pyobjc-framework-Metal): {exc}"
    device = Metal.MTLCreateSystemDefaultDevice()
    if device is None:
        return None, "metal: MTLCreateSystemDefaultDevice() found no Metal GPU"
    return (device, Metal), ""


def available() -> tuple[bool, str]:
    """``(True, device name)`` where Metal kernels can run, else ``(False, the reason)``."""
    found, reason = _device()
    if found is None:
        return False, reason
    return True, str(found[0].name())


def _require():
    found, reason = _device()
    if found is None:
        raise LuminaDeviceError(reason)
    return found


@functools.lru_cache(maxsize=1)
def _queue():
    device, _ = _require()
    return device.newCommandQueue()


def _pipeline(desc, source: str):
    device, Metal = _require()
    options = Metal.MTLCompileOptions.new()
    options.setFastMathEnabled_(False)
    library, error = device.newLibraryWithSource_options_error_(source, options, None)
    if library is None:
        raise LuminaCodegenError(f"metal: kernel {desc.name}: the Metal compiler rejected its MSL: {error}")
    function = library.newFunctionWithName_(desc.name)
    pipeline, error = device.newComputePipelineStateWithFunction_error_(function, None)
    if pipeline is None:
        raise LuminaCodegenError(f"metal: kernel {desc.name}: no compute pipeline: {error}")
    return pipeline


def launcher(desc) -> Callable[[list[np.ndarray]], None]:
    """A function running ``desc`` on the Metal GPU: it takes one flat C-contiguous NumPy array per
    ``desc.buffers`` entry (inputs, then outputs, of the buffers' dtypes and sizes) and writes the
    outputs in place. Raises ``LuminaDeviceError`` where Metal is unavailable (the reason from
    ``available()``), ``LuminaCodegenError`` for a kernel Metal cannot run (float64) or compile."""
    device, Metal = _require()
    source = msl.render(desc)
    geo = msl.geometry(desc)
    pipeline = _pipeline(desc, source)
    if geo.threads > pipeline.maxTotalThreadsPerThreadgroup():
        raise LuminaCodegenError(f"metal: kernel {desc.name}: needs {geo.threads} threads per threadgroup, "
                                 f"the pipeline allows {pipeline.maxTotalThreadsPerThreadgroup()}")
    n_in = len(desc.buffers) - desc.n_outputs
    wide = msl.uses_argument_buffer(desc)

    def run(buffers: list[np.ndarray]) -> None:
        if len(buffers) != len(desc.buffers):
            raise LuminaDeviceError(f"metal: kernel {desc.name}: {len(buffers)} buffers, expected {len(desc.buffers)}")
        shared = Metal.MTLResourceStorageModeShared
        mtl = []
        for i, (spec, arr) in enumerate(zip(desc.buffers, buffers)):
            if arr.size != spec.numel or arr.dtype != spec.dtype.numpy or not arr.flags.c_contiguous:
                raise LuminaDeviceError(f"metal: kernel {desc.name}: buffer {i} is {arr.dtype}[{arr.size}], "
                                        f"expected contiguous {spec.dtype.numpy}[{spec.numel}]")
            nbytes = max(arr.nbytes, 1)   # Metal has no empty buffers
            if i < n_in:
                mtl.append(device.newBufferWithBytes_length_options_(arr.tobytes() or b"\0", nbytes, shared))
            else:
                mtl.append(device.newBufferWithLength_options_(nbytes, shared))
        if geo.threadgroups == 0:
            return
        command = _queue().commandBuffer()
        encoder = command.computeCommandEncoder()
        encoder.setComputePipelineState_(pipeline)
        if wide:   # one argument buffer of device addresses (Metal 3), every buffer made resident
            table = device.newBufferWithLength_options_(8 * len(mtl), shared)
            np.frombuffer(table.contents().as_buffer(8 * len(mtl)), np.uint64)[:] = [b.gpuAddress() for b in mtl]
            encoder.setBuffer_offset_atIndex_(table, 0, 0)
            for buf in mtl:
                encoder.useResource_usage_(buf, Metal.MTLResourceUsageRead | Metal.MTLResourceUsageWrite)
        else:
            for i, buf in enumerate(mtl):
                encoder.setBuffer_offset_atIndex_(buf, 0, i)
        encoder.dispatchThreadgroups_threadsPerThreadgroup_(Metal.MTLSizeMake(geo.threadgroups, 1, 1),
                                                            Metal.MTLSizeMake(geo.threads, 1, 1))
        encoder.endEncoding()
        command.commit()
        command.waitUntilCompleted()
        if command.error() is not None:
            raise LuminaDeviceError(f"metal: kernel {desc.name}: the command buffer failed: {command.error()}")
        for arr, buf in zip(buffers[n_in:], mtl[n_in:]):
            view = buf.contents().as_buffer(arr.nbytes)
            arr[...] = np.frombuffer(view, dtype=arr.dtype, count=arr.size).reshape(arr.shape)
    return run
