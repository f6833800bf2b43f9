"""Floating-point operations of one inference, counted from the graph: TGA Keras models and ONNX files.

:func:`model_flops` traces a TGA ``keras.Model``'s inference graph
(:func:`~tga_keras.runtime.graph.inference_function`, float32, batch 1, a fixed LR size) and
:func:`function_flops` counts any ``tf.function``; :func:`onnx_flops` counts an ONNX model (the
official network's ONNX peer included) after shape inference at fixed input sizes. All of them count
the ops that multiply and accumulate, a multiply and an add being 2 FLOPs:

- convolutions (TensorFlow ``Conv2D``, ``Conv3D``, ``DepthwiseConv2dNative``,
  ``Conv2DBackpropInput``; ONNX ``Conv`` 2-D and 3-D with ``group``, ``ConvTranspose``):
  ``2 * output elements * kernel spatial volume * input channels per group`` (a transposed conv:
  ``2 * input elements * kernel volume * output channels per group``);
- matrix products (``MatMul``, ``BatchMatMul*``; ONNX ``MatMul``, ``Gemm``):
  ``2 * output elements * contracted length``.

Elementwise ops (bias adds, ReLU, BatchNorm, softmax, the bicubic's and attention's products,
reshapes) are not counted: in the official network at 144x180 the other ops output 2.2 G elements
(ReLU 1.09 G, adds 0.62 G, BatchNorm 0.49 G), about 2.7 GFLOPs at one FLOP per element (two per
BatchNorm element), 0.4 % of the 617 GFLOPs counted. ``tga benchmark --peak`` divides these counts
by the measured time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tga_keras.errors import InputError

if TYPE_CHECKING:
    import keras

# TensorFlow op types whose FLOPs are counted (see the module docstring)
TF_COUNTED_OPS = (
    "Conv2D",
    "Conv3D",
    "DepthwiseConv2dNative",
    "Conv2DBackpropInput",
    "MatMul",
    "BatchMatMul",
    "BatchMatMulV2",
    "BatchMatMulV3",
)
# ONNX op types whose FLOPs are counted
ONNX_COUNTED_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")

# ops that call a function of the graph's library (a nested tf.function, a Keras layer traced on its own)
_CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")


def _prod(dims: Any) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _static(shape: Any, what: str) -> list[int]:
    """``shape`` (a ``tf.TensorShape``) as a list of ints; an ``InputError`` naming ``what`` if any is unknown."""
    dims = shape.as_list() if shape.rank is not None else None
    if dims is None or any(d is None for d in dims):
        raise InputError(f"{what}: shape {shape} is not static; trace the function at a fixed input size")
    return [int(d) for d in dims]


def _tf_op_flops(op: Any) -> int:
    """FLOPs of one TensorFlow op of :data:`TF_COUNTED_OPS` (shapes read from the graph)."""
    kind = op.type
    out = _prod(_static(op.outputs[0].shape, op.name))
    if kind in ("Conv2D", "Conv3D"):
        # filter (kh, kw[, kd], Cin/groups, Cout): every output element sums kernel volume * Cin/groups products
        return 2 * out * _prod(_static(op.inputs[1].shape, op.name)[:-1])
    if kind == "DepthwiseConv2dNative":
        # filter (kh, kw, Cin, multiplier): every output element reads kh*kw inputs of one channel
        return 2 * out * _prod(_static(op.inputs[1].shape, op.name)[:2])
    if kind == "Conv2DBackpropInput":
        # inputs (input_sizes, filter (kh, kw, Cin, Cout), out_backprop): every out_backprop element
        # is spread over kh*kw*Cin outputs
        backprop = _prod(_static(op.inputs[2].shape, op.name))
        return 2 * backprop * _prod(_static(op.inputs[1].shape, op.name)[:-1])
    a = _static(op.inputs[0].shape, op.name)
    if kind == "MatMul":
        k = a[0] if op.get_attr("transpose_a") else a[1]
    else:  # BatchMatMul*: (..., M, K) x (..., K, N)
        k = a[-2] if op.get_attr("adj_x") else a[-1]
    return 2 * out * k


def graph_flops_by_op(graph: Any) -> dict[str, int]:
    """FLOPs of the ops of :data:`TF_COUNTED_OPS` in ``graph`` (a ``tf.Graph`` with static shapes),
    by op type. Function-call ops are not followed (:func:`function_flops` inlines them first)."""
    counts: dict[str, int] = {}
    for op in graph.get_operations():
        if op.type in TF_COUNTED_OPS:
            counts[op.type] = counts.get(op.type, 0) + _tf_op_flops(op)
    return counts


def _has_calls(graph: Any) -> bool:
    names = set(graph._functions) if hasattr(graph, "_functions") else set()
    return any(op.type in _CALL_OPS or op.type in names for op in graph.get_operations())


def function_flops_by_op(fn: Any) -> dict[str, int]:
    """FLOPs of one call of ``fn`` by op type: ``fn`` a ``tf.function`` whose input signature is fully
    static, or a concrete function of one. Nested functions (``PartitionedCall`` ops, the graph's
    function library) are inlined first with ``convert_variables_to_constants_v2``."""
    concrete = fn.get_concrete_function() if hasattr(fn, "get_concrete_function") else fn
    graph = concrete.graph
    if _has_calls(graph):
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        graph = convert_variables_to_constants_v2(concrete).graph
        if _has_calls(graph):
            raise InputError("the graph still calls functions after inlining; its FLOPs cannot be counted")
    return graph_flops_by_op(graph)


def function_flops(fn: Any) -> int:
    """FLOPs of one call of ``fn`` (see :func:`function_flops_by_op`): multiply-accumulates of its
    convolutions and matrix products, 2 FLOPs each."""
    return sum(function_flops_by_op(fn).values())


def model_flops(model: keras.Model, height: int, width: int) -> int:
    """FLOPs of one inference of a TGA ``model`` on one window of ``model.config.frames`` LR frames of
    ``height x width`` (batch 1), i.e. per output frame of ``scale*height x scale*width``, counted in
    its float32 :func:`~tga_keras.runtime.graph.inference_function` graph. Official config at
    144x180: 617.06 GFLOPs; the official ONNX peer counts 624.70 (:func:`onnx_flops`) because it runs
    the stem on 9 grouped frames (the reference 3 times) where this graph runs it once per distinct
    frame (7.82 GFLOPs less), and takes the bicubic reference as an input (the graph's bicubic conv:
    0.19 GFLOPs more)."""
    from tga_keras.runtime.graph import inference_function

    return function_flops(inference_function(model, "float32", height=int(height), width=int(width), batch=1))


# ----------------------------------------------------------------------------------------------- ONNX


def _onnx_shapes(model: Any) -> dict[str, list[int]]:
    """Static shapes of every value of ``model`` that shape inference (with data propagation) fixes."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    g = inferred.graph
    shapes: dict[str, list[int]] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[vi.name] = [int(d.dim_value) for d in t.shape.dim]
    for init in g.initializer:
        shapes[init.name] = [int(d) for d in init.dims]
    return shapes


def _fix_inputs(model: Any, inputs: dict[str, tuple[int, ...]] | None) -> None:
    """Set the dims of ``model``'s graph inputs to ``inputs`` (in place); an ``InputError`` if an input
    keeps a dynamic dim or ``inputs`` names one the graph does not have."""
    inputs = dict(inputs or {})
    initializers = {i.name for i in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in initializers]
    unknown = set(inputs) - {i.name for i in graph_inputs}
    if unknown:
        names = [i.name for i in graph_inputs]
        raise InputError(f"the ONNX model has no inputs {sorted(unknown)}; its inputs: {names}")
    for vi in graph_inputs:
        dims = vi.type.tensor_type.shape.dim
        if vi.name in inputs:
            want = tuple(int(d) for d in inputs[vi.name])
            if len(want) != len(dims):
                raise InputError(f"ONNX input {vi.name!r} has rank {len(dims)}, got the shape {want}")
            for i, (d, v) in enumerate(zip(dims, want, strict=True)):
                if d.HasField("dim_value") and d.dim_value != v:
                    raise InputError(f"ONNX input {vi.name!r} has {d.dim_value} at axis {i}, got the shape {want}")
                d.Clear()
                d.dim_value = v
        elif not all(d.HasField("dim_value") for d in dims):
            shown = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
            raise InputError(f"ONNX input {vi.name!r} has dynamic dims {shown}: give its shape in inputs")


def _attr(node: Any, name: str, default: Any) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _onnx_node_flops(node: Any, shapes: dict[str, list[int]]) -> int:
    """FLOPs of one ONNX node of :data:`ONNX_COUNTED_OPS` (its input and output shapes static)."""

    def shape(name: str) -> list[int]:
        if name not in shapes:
            raise InputError(f"ONNX {node.op_type} {node.name!r}: the shape of {name!r} is not static after inference")
        return shapes[name]

    if node.op_type == "Conv":
        # W (M, C/group, k...): every output element sums kernel volume * C/group products
        return 2 * _prod(shape(node.output[0])) * _prod(shape(node.input[1])[1:])
    if node.op_type == "ConvTranspose":
        # W (C, M/group, k...): every input element is spread over kernel volume * M/group outputs
        return 2 * _prod(shape(node.input[0])) * _prod(shape(node.input[1])[1:])
    a = shape(node.input[0])
    if node.op_type == "Gemm":
        k = a[0] if _attr(node, "transA", 0) else a[1]
    else:  # MatMul: (..., M, K) x (..., K, N); a 1-D A is (K,)
        k = a[-1]
    return 2 * _prod(shape(node.output[0])) * k


def onnx_flops_by_op(
    path_or_model: str | os.PathLike[str] | Any, inputs: dict[str, tuple[int, ...]] | None = None
) -> dict[str, int]:
    """FLOPs of one run of an ONNX model by op type (see :func:`onnx_flops`)."""
    import onnx

    if isinstance(path_or_model, (str, os.PathLike)):
        model = onnx.load(os.fspath(path_or_model))
    else:
        model = onnx.ModelProto()
        model.CopyFrom(path_or_model)  # the caller's proto keeps its dynamic dims
    _fix_inputs(model, inputs)
    shapes = _onnx_shapes(model)
    counts: dict[str, int] = {}
    for node in _onnx_nodes(model.graph):
        if node.op_type in ONNX_COUNTED_OPS and node.domain in ("", "ai.onnx"):
            counts[node.op_type] = counts.get(node.op_type, 0) + _onnx_node_flops(node, shapes)
    return counts


def _onnx_nodes(graph: Any) -> list[Any]:
    """The nodes of ``graph`` and of the subgraphs of its ``If``/``Loop``/``Scan`` nodes (each once)."""
    import onnx

    nodes = []
    for node in graph.node:
        nodes.append(node)
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                nodes.extend(_onnx_nodes(a.g))
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sub in a.graphs:
                    nodes.extend(_onnx_nodes(sub))
    return nodes


def onnx_flops(path_or_model: str | os.PathLike[str] | Any, inputs: dict[str, tuple[int, ...]] | None = None) -> int:
    """FLOPs of one run of an ONNX model (a path or an ``onnx.ModelProto``): its ``Conv`` (2-D and 3-D,
    grouped), ``ConvTranspose``, ``MatMul`` and ``Gemm`` nodes, 2 FLOPs per multiply-accumulate.

    ``inputs`` maps input names to the shapes their dynamic dims take (e.g. the official network's
    ONNX peer: ``{"x": (1, 3, 9, 144, 180), "hr": (1, 3, 576, 720)}``: 624.70 GFLOPs); every input
    with a dynamic dim must be given. Shapes come from ``onnx.shape_inference`` (with data
    propagation); a counted node whose shapes stay unknown raises ``InputError``. Needs ``onnx``.
    """
    return sum(onnx_flops_by_op(path_or_model, inputs).values())


__all__ = [
    "ONNX_COUNTED_OPS",
    "TF_COUNTED_OPS",
    "function_flops",
    "function_flops_by_op",
    "graph_flops_by_op",
    "model_flops",
    "onnx_flops",
    "onnx_flops_by_op",
]
