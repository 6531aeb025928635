package nifti

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileRoundTripAndDeterminism(t *testing.T) {
	dir := t.TempDir()
	im := randomImage([3]int{9, 8, 7}, Uint8, 5)
	im.Header.Description = "labels"
	for _, name := range []string{"a.nii", "b.nii.gz"} {
		p := filepath.Join(dir, name)
		if err := WriteFile(p, im); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if got.Header.Description != "labels" || got.Header.QFormCode != XformScanner || got.Header.SFormCode != XformScanner {
			t.Fatalf("%s: header %+v", name, got.Header)
		}
		for i := range im.Data {
			if got.Data[i] != im.Data[i] {
				t.Fatalf("%s: voxel %d = %v, want %v", name, i, got.Data[i], im.Data[i])
			}
		}
		assertAffine(t, got.Affine, im.Affine, 1e-4)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "a.nii"))
	if len(raw) != singleFileData+9*8*7 {
		t.Fatalf("a.nii has %d bytes, want header, extension flag and one byte per voxel", len(raw))
	}
	// Same image, same bytes: gzip carries no time stamp.
	if err := WriteFile(filepath.Join(dir, "c.nii.gz"), im); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(filepath.Join(dir, "b.nii.gz"))
	b2, _ := os.ReadFile(filepath.Join(dir, "c.nii.gz"))
	if !bytes.Equal(b1, b2) {
		t.Fatal("writing the same image twice gave different .nii.gz bytes")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestWriteRejects(t *testing.T) {
	id := Affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}
	cases := []struct {
		name string
		im   *Image
		want error
		says string
	}{
		{"value out of range", NewImage([3]int{2, 1, 1}, id, Uint8, []float32{3, 256}), ErrUnsupported, "voxel 1 has value 256"},
		{"fraction in integer type", NewImage([3]int{2, 1, 1}, id, Int16, []float32{0.5, 1}), ErrUnsupported, "voxel 0"},
		{"sheared affine", NewImage([3]int{1, 1, 1}, Affine{{1, 0.5, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}, Float32, []float32{1}), ErrUnsupported, "not orthogonal"},
		{"zero column", NewImage([3]int{1, 1, 1}, Affine{{1, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 1, 0}}, Float32, []float32{1}), ErrCorrupt, "column 1"},
		{"short data", NewImage([3]int{2, 2, 2}, id, Float32, []float32{1}), ErrCorrupt, "1 values"},
		{"complex", NewImage([3]int{1, 1, 1}, id, 32, []float32{1}), ErrUnsupported, "COMPLEX64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.nii.gz")
			err := WriteFile(path, c.im)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want %v mentioning %q", err, c.want, c.says)
			}
			if _, serr := os.Stat(path); !os.IsNotExist(serr) {
				t.Fatalf("a failed write left %s behind", path)
			}
		})
	}
}

func BenchmarkWriteLabelsGz(b *testing.B) {
	data := make([]float32, 240*240*155)
	for i := range data {
		if i%97 < 3 {
			data[i] = float32(i%3 + 1)
		}
	}
	im := NewImage([3]int{240, 240, 155}, obliqueAffine(), Uint8, data)
	path := filepath.Join(b.TempDir(), "labels.nii.gz")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := WriteFile(path, im); err != nil {
			b.Fatal(err)
		}
	}
}
