package model

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// CardSuffix ends the file name of every card; the registry reads no other files as cards.
const CardSuffix = ".card.json"

// MaxArtifactBytes caps the size of a model file read into memory (SwinUNETR exports are about 250 MB).
const MaxArtifactBytes = 4 << 30

// EmbeddedSource names the models built into the binary.
const EmbeddedSource = "embedded"

// Sentinel errors callers branch on.
var (
	ErrNotFound         = errors.New("model not found")
	ErrAmbiguous        = errors.New("more than one model could be meant")
	ErrDuplicateID      = errors.New("duplicate model id")
	ErrChecksumMismatch = errors.New("model file does not match the sha256 in its card")
)

// Entry is one card found by the registry. When Err is set the model cannot be used and Card may be nil; List
// still shows it so that a broken drop-in model is reported rather than silently missing.
type Entry struct {
	Card     *Card
	Source   string // EmbeddedSource or the user directory
	CardPath string // path of the card inside its source
	Err      error
	fsys     fs.FS
}

// Registry is the set of model cards from the embedded directory and the user directories.
type Registry struct {
	entries []Entry
}

type registryConfig struct {
	sources []source
}

type source struct {
	name string
	fsys fs.FS
}

// Option configures NewRegistry.
type Option func(*registryConfig) error

// WithEmbedded adds the models built into the binary (assets/models).
func WithEmbedded(fsys fs.FS) Option {
	return func(c *registryConfig) error {
		c.sources = append(c.sources, source{name: EmbeddedSource, fsys: fsys})
		return nil
	}
}

// WithDir adds a directory of user models (card + .onnx pairs, subdirectories allowed). The directory must exist:
// a mistyped path is an error rather than an empty list.
func WithDir(dir string) Option {
	return func(c *registryConfig) error {
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("model directory: %w", err)
		}
		if !info.IsDir() {
			return fmt.Errorf("model directory %s is not a directory", dir)
		}
		c.sources = append(c.sources, source{name: dir, fsys: os.DirFS(dir)})
		return nil
	}
}

// UserDir is the conventional directory for a site's own models: $XDG_DATA_HOME/neuronova/models, or
// ~/.local/share/neuronova/models.
func UserDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "neuronova", "models"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "neuronova", "models"), nil
}

// NewRegistry reads every card of every source. Cards that fail to parse become entries with Err set; only a
// source that cannot be read at all is an error.
func NewRegistry(opts ...Option) (*Registry, error) {
	var cfg registryConfig
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	r := &Registry{}
	firstByID := map[string]Entry{}
	for _, src := range cfg.sources {
		var paths []string
		err := fs.WalkDir(src.fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), CardSuffix) {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read models in %s: %w", src.name, err)
		}
		slices.Sort(paths)
		for _, p := range paths {
			e := Entry{Source: src.name, CardPath: p, fsys: src.fsys}
			e.Card, e.Err = readCard(src.fsys, p)
			if e.Err == nil {
				if first, dup := firstByID[e.Card.ID]; dup {
					e.Err = fmt.Errorf("%w %q: already defined by %s in %s; give this model another id",
						ErrDuplicateID, e.Card.ID, first.CardPath, first.Source)
				} else {
					firstByID[e.Card.ID] = e
				}
			}
			r.entries = append(r.entries, e)
		}
	}
	return r, nil
}

func readCard(fsys fs.FS, p string) (*Card, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCardBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	c, err := ParseCard(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// List returns every entry, usable or not, ordered by family, then id.
func (r *Registry) List() []Entry {
	out := slices.Clone(r.entries)
	slices.SortStableFunc(out, func(a, b Entry) int {
		if a.Card == nil || b.Card == nil {
			return boolCompare(a.Card == nil, b.Card == nil)
		}
		if c := strings.Compare(string(a.Card.Family), string(b.Card.Family)); c != 0 {
			return c
		}
		return strings.Compare(a.Card.ID, b.Card.ID)
	})
	return out
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// Get returns the usable entry with that id.
func (r *Registry) Get(id string) (Entry, error) {
	for _, e := range r.entries {
		if e.Card != nil && e.Card.ID == id && e.Err == nil {
			return e, nil
		}
	}
	for _, e := range r.entries {
		if e.Card != nil && e.Card.ID == id {
			return Entry{}, e.Err
		}
	}
	return Entry{}, fmt.Errorf("%w: no model with id %q (see `neuronova models`)", ErrNotFound, id)
}

// Default returns the model to use for a family when none is named: a user model if there is exactly one, else
// the embedded one. Two candidates at the same level are ErrAmbiguous.
func (r *Registry) Default(family Family) (Entry, error) {
	var user, embedded []Entry
	for _, e := range r.entries {
		if e.Err != nil || e.Card.Family != family {
			continue
		}
		if e.Source == EmbeddedSource {
			embedded = append(embedded, e)
		} else {
			user = append(user, e)
		}
	}
	for _, group := range [][]Entry{user, embedded} {
		switch len(group) {
		case 0:
			continue
		case 1:
			return group[0], nil
		}
		ids := make([]string, len(group))
		for i, e := range group {
			ids[i] = e.Card.ID
		}
		return Entry{}, fmt.Errorf("%w: %s models %s; name one", ErrAmbiguous, family, strings.Join(ids, ", "))
	}
	return Entry{}, fmt.Errorf("%w: no %s model", ErrNotFound, family)
}

// ArtifactPath is the model file's path inside its source.
func (e Entry) ArtifactPath() string {
	return path.Join(path.Dir(e.CardPath), e.Card.Artifact.File)
}

// ReadArtifact reads the model file and verifies its size and sha256 against the card. A mismatch is
// ErrChecksumMismatch: the file is not the one the card describes and must not be run.
func (e Entry) ReadArtifact() ([]byte, error) {
	if e.Err != nil {
		return nil, e.Err
	}
	p := e.ArtifactPath()
	f, err := e.fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("model %s: open %s in %s: %w", e.Card.ID, p, e.Source, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxArtifactBytes+1))
	if err != nil {
		return nil, fmt.Errorf("model %s: read %s: %w", e.Card.ID, p, err)
	}
	if len(data) > MaxArtifactBytes {
		return nil, fmt.Errorf("model %s: %s is larger than %d bytes", e.Card.ID, p, MaxArtifactBytes)
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if got != e.Card.Artifact.SHA256 || int64(len(data)) != e.Card.Artifact.SizeBytes {
		return nil, fmt.Errorf("%w: model %s, file %s in %s: card says sha256 %s (%d bytes), file has sha256 %s (%d bytes)",
			ErrChecksumMismatch, e.Card.ID, p, e.Source, e.Card.Artifact.SHA256, e.Card.Artifact.SizeBytes, got, len(data))
	}
	return data, nil
}
