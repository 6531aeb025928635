package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/neuronova/neuronova/server/postgres"
	"github.com/neuronova/neuronova/server/sqlite"
)

// command is an operator's command besides serving. setup declares its flags on fs and returns what runs it
// on the server's database db.
type command struct {
	summary string
	setup   func(fs *flag.FlagSet) func(ctx context.Context, db string, out io.Writer) error
}

var commands = map[string]command{
	"backup":  {"write a consistent copy of the database while the server runs", backupFlags},
	"restore": {"make a backup the database of a stopped server (never overwrites data)", restoreFlags},
	"init":    {"create the first SYSTEMMANAGER on an empty database (password from stdin, or generated)", initFlags},
}

// commandNames lists the commands for messages.
func commandNames() string {
	names := []string{"serve"}
	for n := range commands {
		names = append(names, n)
	}
	for n := range userCommands {
		names = append(names, "user "+n)
	}
	sort.Strings(names[1:])
	return strings.Join(names, ", ")
}

// runCommand runs the command name with args and returns the exit status.
func runCommand(ctx context.Context, name string, args []string, getenv func(string) string, out, errOut io.Writer) int {
	c, ok := commands[name]
	if name == "user" && len(args) > 0 {
		c, ok = userCommands[args[0]]
		name, args = "user "+args[0], args[1:]
	}
	if !ok {
		fmt.Fprintf(errOut, "neuronova-server: unknown command %q (%s)\n", name, commandNames())
		return 2
	}
	fs := flag.NewFlagSet("neuronova-server "+name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintf(errOut, "neuronova-server %s: %s\n", name, c.summary)
		fs.PrintDefaults()
	}
	def := getenv("NEURONOVA_DB")
	if def == "" {
		def = "neuronova-server.db"
	}
	db := fs.String("db", def, "the server's database: an SQLite file or a postgres:// URL (NEURONOVA_DB)")
	run := c.setup(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "neuronova-server %s: unexpected arguments %q\n", name, fs.Args())
		return 2
	}
	if err := run(ctx, *db, out); err != nil {
		fmt.Fprintf(errOut, "neuronova-server %s: %v\n", name, err)
		return 1
	}
	return 0
}

func backupFlags(fs *flag.FlagSet) func(context.Context, string, io.Writer) error {
	to := fs.String("out", "", "the backup file to write (must not exist)")
	return func(ctx context.Context, db string, out io.Writer) error {
		if *to == "" {
			return errors.New("--out FILE is required")
		}
		if postgres.IsURL(db) {
			err := postgres.Backup(ctx, db, *to)
			if err != nil {
				return err
			}
		} else {
			s, err := sqlite.Open(ctx, db)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Backup(ctx, *to); err != nil {
				return err
			}
		}
		st, err := os.Stat(*to)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "backed up %s to %s (%d bytes)\n", dbName(db), *to, st.Size())
		return nil
	}
}

func restoreFlags(fs *flag.FlagSet) func(context.Context, string, io.Writer) error {
	from := fs.String("in", "", "the backup file to restore")
	return func(ctx context.Context, db string, out io.Writer) error {
		if *from == "" {
			return errors.New("--in FILE is required")
		}
		restore := sqlite.Restore
		if postgres.IsURL(db) {
			restore = postgres.Restore
		}
		if err := restore(ctx, *from, db); err != nil {
			return err
		}
		fmt.Fprintf(out, "restored %s into %s\n", *from, dbName(db))
		return nil
	}
}
