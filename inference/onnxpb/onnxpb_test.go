package onnxpb

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// affineModel is y = Relu(x·W + b) with a symbolic batch dimension.
func affineModel() *Model {
	b := NewBuilder("affine")
	x := b.Input("x", Float32, Symbolic("N"), Fixed(3))
	w := b.Float32("W", []int64{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	bias := b.Float32("b", []int64{2}, []float32{0.5, -0.5})
	h := b.Op("Gemm", []string{x, w, bias}, FloatAttr("alpha", 1))
	b.OpTo("y", "Relu", []string{h})
	b.Output("y", Float32, Symbolic("N"), Fixed(2))
	return &Model{
		IRVersion:    8,
		Opsets:       []OpsetID{{Version: 17}},
		ProducerName: "onnxpb-test",
		ModelVersion: 3,
		DocString:    "test model",
		Metadata:     []KeyValue{{"card_id", "affine"}, {"note", "not for clinical use"}},
		Graph:        b.Graph(),
	}
}

func TestMarshalInspectRoundTrip(t *testing.T) {
	data, err := affineModel().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	if s.IRVersion != 8 || s.Opset() != 17 || s.ProducerName != "onnxpb-test" || s.ModelVersion != 3 {
		t.Errorf("model fields: ir %d opset %d producer %q version %d", s.IRVersion, s.Opset(), s.ProducerName, s.ModelVersion)
	}
	if v, ok := s.MetadataValue("card_id"); !ok || v != "affine" {
		t.Errorf("metadata card_id = %q, %v", v, ok)
	}
	if s.GraphName != "affine" || s.NodeCount != 2 || s.InitializerCount != 2 || s.Parameters != 8 {
		t.Errorf("graph: name %q nodes %d initializers %d parameters %d", s.GraphName, s.NodeCount, s.InitializerCount, s.Parameters)
	}
	if !slices.Equal(s.OpTypes, []string{"Gemm", "Relu"}) {
		t.Errorf("op types %v", s.OpTypes)
	}
	if len(s.Inputs) != 1 || s.Inputs[0].Name != "x" || s.Inputs[0].ElemType != Float32 ||
		!slices.Equal(s.Inputs[0].Dims, []Dim{Symbolic("N"), Fixed(3)}) {
		t.Errorf("inputs %+v", s.Inputs)
	}
	if len(s.Outputs) != 1 || s.Outputs[0].Name != "y" || !slices.Equal(s.Outputs[0].Dims, []Dim{Symbolic("N"), Fixed(2)}) {
		t.Errorf("outputs %+v", s.Outputs)
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	a, err := affineModel().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, err := affineModel().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings of the same model differ")
	}
}

func TestMarshalRejectsInconsistentModels(t *testing.T) {
	tests := map[string]func(m *Model){
		"tensor size":    func(m *Model) { m.Graph.Initializers[0].Float32s = m.Graph.Initializers[0].Float32s[:5] },
		"no opset":       func(m *Model) { m.Opsets = nil },
		"no IR version":  func(m *Model) { m.IRVersion = 0 },
		"unnamed tensor": func(m *Model) { m.Graph.Initializers[1].Name = "" },
		"node no output": func(m *Model) { m.Graph.Nodes[0].Outputs = nil },
		"unnamed output": func(m *Model) { m.Graph.Outputs[0].Name = "" },
	}
	for name, spoil := range tests {
		t.Run(name, func(t *testing.T) {
			m := affineModel()
			spoil(m)
			if _, err := m.Marshal(); !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("Marshal error = %v, want ErrInvalidModel", err)
			}
		})
	}
}

func TestInspectRejectsMalformedData(t *testing.T) {
	good, err := affineModel().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)/2],
		"garbage":   []byte("not a protobuf at all \xff\xff\xff"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Inspect(data); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Inspect error = %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzInspect(f *testing.F) {
	good, err := affineModel().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte{0x08, 0x08, 0x3a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Inspect(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if s.IRVersion == 0 || s.Parameters < 0 || s.NodeCount < 0 {
			t.Fatalf("accepted summary is inconsistent: %+v", s)
		}
	})
}
