package onnxpb

import "fmt"

// Builder assembles a Graph node by node, naming intermediate values so that callers only name what matters
// (inputs, outputs, weights).
type Builder struct {
	graph Graph
	next  int
}

// NewBuilder starts a graph with the given name.
func NewBuilder(name string) *Builder {
	return &Builder{graph: Graph{Name: name}}
}

// Input declares a graph input and returns its name.
func (b *Builder) Input(name string, elem DataType, dims ...Dim) string {
	b.graph.Inputs = append(b.graph.Inputs, ValueInfo{Name: name, ElemType: elem, Dims: dims})
	return name
}

// Output declares value as a graph output.
func (b *Builder) Output(value string, elem DataType, dims ...Dim) {
	b.graph.Outputs = append(b.graph.Outputs, ValueInfo{Name: value, ElemType: elem, Dims: dims})
}

// Float32 adds a float32 initializer and returns its name.
func (b *Builder) Float32(name string, dims []int64, values []float32) string {
	b.graph.Initializers = append(b.graph.Initializers, Tensor{
		Name: name, DataType: Float32, Dims: append([]int64(nil), dims...), Float32s: append([]float32(nil), values...),
	})
	return name
}

// Int64 adds an int64 initializer and returns its name.
func (b *Builder) Int64(name string, dims []int64, values []int64) string {
	b.graph.Initializers = append(b.graph.Initializers, Tensor{
		Name: name, DataType: Int64, Dims: append([]int64(nil), dims...), Int64s: append([]int64(nil), values...),
	})
	return name
}

// Op adds a node with one output named automatically and returns that name.
func (b *Builder) Op(opType string, inputs []string, attrs ...Attribute) string {
	b.next++
	out := fmt.Sprintf("%s_%d", opType, b.next)
	b.graph.Nodes = append(b.graph.Nodes, Node{
		Name: out, OpType: opType, Inputs: inputs, Outputs: []string{out}, Attributes: attrs,
	})
	return out
}

// OpTo adds a node whose single output is given the name out (typically a graph output) and returns out.
func (b *Builder) OpTo(out, opType string, inputs []string, attrs ...Attribute) string {
	b.next++
	b.graph.Nodes = append(b.graph.Nodes, Node{
		Name: fmt.Sprintf("%s_%d", opType, b.next), OpType: opType, Inputs: inputs, Outputs: []string{out},
		Attributes: attrs,
	})
	return out
}

// Graph returns the graph built so far.
func (b *Builder) Graph() Graph {
	return b.graph
}
