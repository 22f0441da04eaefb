"""Non-temporal ("streaming") stores, for writing results the caches cannot hold.

The sampler writes about 3 KB per draw into chunk buffers far larger than the caches. An
ordinary store first reads its destination line into the cache (a read for ownership) and
later writes it back; a non-temporal store sends whole lines to memory without reading them.
The model therefore computes a block of draws in scratch arrays that stay in cache and
copies each finished block out with :func:`stream_copy`.

These are LLVM stores carrying ``!nontemporal`` metadata, which every LLVM target lowers to
its own streaming store (``movntpd`` on x86, ``stnp`` on AArch64) or to a plain store. Their
values are the ones an ordinary store would write: only the path through the caches differs.
Streaming stores are weakly ordered, so a kernel ends its writing with :func:`store_fence`
before other threads read the data.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from mcinfra.kernels.jit import inline

_I8_POINTER = ir.IntType(8).as_pointer()
_DOUBLE = ir.DoubleType()
_FOUR_DOUBLES = ir.VectorType(_DOUBLE, 4)
VECTOR_BYTES = 32  # one 4-double streaming store; its address must be a multiple of this


def _pointer(context, builder, array_type, array, offset_type, offset, pointee):
    """Pointer to byte ``offset`` of ``array``'s data, typed as ``pointee``."""
    data = context.make_array(array_type)(context, builder, array).data
    offset = context.cast(builder, offset, offset_type, types.intp)
    raw = builder.gep(builder.bitcast(data, _I8_POINTER), [offset])
    return builder.bitcast(raw, pointee.as_pointer())


def _mark_nontemporal(builder, store) -> None:
    store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))


def _is_float_array(array) -> bool:
    return isinstance(array, types.Array) and array.dtype == types.float64


def _streaming_copy(value_type, alignment: int):
    """An intrinsic ``(dst, dst_offset, src, src_offset)`` copying one ``value_type``.

    The value is read from byte ``src_offset`` of ``src``'s data and written with a
    streaming store at byte ``dst_offset`` of ``dst``'s, whose address must be a multiple
    of ``alignment``.
    """

    def typer(_typingctx, dst, dst_offset, src, src_offset):
        if not (_is_float_array(dst) and _is_float_array(src)):
            return None

        def codegen(context, builder, signature, args):
            kinds = signature.args
            source = _pointer(context, builder, kinds[2], args[2], kinds[3], args[3], value_type)
            target = _pointer(context, builder, kinds[0], args[0], kinds[1], args[1], value_type)
            value = builder.load(source, align=8)
            _mark_nontemporal(builder, builder.store(value, target, align=alignment))
            return context.get_dummy_value()

        return types.void(dst, dst_offset, src, src_offset), codegen

    return intrinsic(typer)


_stream_one = _streaming_copy(_DOUBLE, 8)
_stream_four = _streaming_copy(_FOUR_DOUBLES, VECTOR_BYTES)


@intrinsic
def store_fence(_typingctx):
    """Order every earlier store, streaming ones included, before any later memory access."""

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


@inline
def stream_copy(dst, dst_offset, src, src_offset, n):
    """Copy ``n`` contiguous float64 between byte offsets, with streaming stores.

    Both runs must be contiguous (stride 8 bytes). The destination's unaligned head and tail
    take single-value stores, the aligned middle 32-byte ones.
    """
    address = dst.ctypes.data + dst_offset
    head = min(n, ((-address) & (VECTOR_BYTES - 1)) >> 3)
    for i in range(head):
        _stream_one(dst, dst_offset + 8 * i, src, src_offset + 8 * i)
    i = head
    while i + 4 <= n:
        _stream_four(dst, dst_offset + 8 * i, src, src_offset + 8 * i)
        i += 4
    while i < n:
        _stream_one(dst, dst_offset + 8 * i, src, src_offset + 8 * i)
        i += 1
