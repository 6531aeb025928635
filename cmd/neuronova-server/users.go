package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

// The account commands are the host operator's: whoever can run them on the server's host can already read its
// database, so they need no login; each change is audited with the operator's OS account as its actor.

// operator is the audit identity of the host operator running a command.
func operator() string {
	name := os.Getenv("SUDO_USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	host, _ := os.Hostname()
	return "host:" + name + "@" + host
}

// audited returns ctx carrying the audit record of an operator's change to the account objectID ("" for a new
// one, which the store names): the store commits it with the write.
func audited(ctx context.Context, action, objectID, detail string) context.Context {
	a := &server.TxAudit{Record: func(error) server.AuditRecord {
		return server.AuditRecord{At: time.Now().UTC(), LoginID: operator(), Action: action, ObjectType: "user", ObjectID: objectID,
			Outcome: api.OutcomeSuccess, Method: "CLI", Path: "neuronova-server " + strings.Join(os.Args[1:], " "),
			Detail: detail, Source: "cli"}
	}}
	return server.WithTxAudit(ctx, a)
}

// passwordHasher hashes at the cost the server uses (NEURONOVA_BCRYPT_COST, default 10).
func passwordHasher() (*auth.Passwords, error) {
	cost := 0
	if v := os.Getenv("NEURONOVA_BCRYPT_COST"); v != "" {
		if _, err := fmt.Sscan(v, &cost); err != nil {
			return nil, fmt.Errorf("NEURONOVA_BCRYPT_COST=%q: %w", v, err)
		}
	}
	return auth.NewPasswords(cost)
}

// readPassword reads one line from in when it is not a terminal; "" when there is nothing to read.
func readPassword(in *os.File) (string, error) {
	if st, err := in.Stat(); err != nil || st.Mode()&os.ModeCharDevice != 0 {
		return "", nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// initFlags: neuronova-server init --login NAME creates the first SYSTEMMANAGER on an empty database.
func initFlags(fs *flag.FlagSet) func(context.Context, string, io.Writer) error {
	login := fs.String("login", "", "login ID of the first SYSTEMMANAGER")
	name := fs.String("name", "", "full name (default: the login ID)")
	return func(ctx context.Context, db string, out io.Writer) error {
		s, err := openStore(ctx, db)
		if err != nil {
			return err
		}
		defer s.Close()
		if users, err := s.ListUsers(ctx, ""); err != nil {
			return err
		} else if len(users) > 0 {
			return fmt.Errorf("the database holds %d accounts already: init only makes the first one (use neuronova-server user add)", len(users))
		}
		password, err := readPassword(os.Stdin)
		if err != nil {
			return err
		}
		u, generated, err := createUser(ctx, s, *login, *name, api.RoleSystemManager, password, "user.init")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created SYSTEMMANAGER %s (id %d)\n", u.LoginID, u.ID)
		if generated != "" {
			fmt.Fprintf(out, "password (shown once; to be changed at first sign-in): %s\n", generated)
		}
		return nil
	}
}

// createUser stores an account; without a password it makes a temporary one, returned, that must be changed.
func createUser(ctx context.Context, s server.Store, login, name string, role api.Role, password, action string) (*server.User, string, error) {
	if name == "" {
		name = login
	}
	generated := ""
	if password == "" {
		password = auth.RandomHex(10)
		generated = password
	}
	system := server.Principal{Role: api.RoleSystemManager} // the host operator may make any account
	if err := server.ValidateNewUser(system, api.CreateUserRequest{LoginID: login, Name: name, Role: role, Password: password}); err != nil {
		return nil, "", err
	}
	h, err := passwordHasher()
	if err != nil {
		return nil, "", err
	}
	hash, err := h.Hash(password)
	if err != nil {
		return nil, "", err
	}
	u := &server.User{User: api.User{LoginID: login, Name: name, Role: role, IsActive: true, MustChangePassword: generated != "",
		CreatedAt: time.Now().UTC()}, PasswordHash: hash}
	actx := audited(ctx, action, "", fmt.Sprintf("%s %s", role, login))
	if err := s.CreateUser(actx, u); err != nil {
		return nil, "", err
	}
	return u, generated, nil
}

// userCommands are the verbs of neuronova-server user.
var userCommands = map[string]command{
	"add":        {"create an account with a temporary password, to be changed at first sign-in", userAddFlags},
	"list":       {"list the accounts", userListFlags},
	"passwd":     {"set a temporary password, to be changed at first sign-in, and end the account's sessions", userChangeFlags("passwd")},
	"unlock":     {"lift a lockout after failed logins", userChangeFlags("unlock")},
	"deactivate": {"deactivate an account and end its sessions", userChangeFlags("deactivate")},
}

func userAddFlags(fs *flag.FlagSet) func(context.Context, string, io.Writer) error {
	login := fs.String("login", "", "login ID")
	role := fs.String("role", "", "role: "+strings.Join(roleNames(), ", "))
	name := fs.String("name", "", "full name (default: the login ID)")
	return func(ctx context.Context, db string, out io.Writer) error {
		r, err := api.ParseRole(*role)
		if err != nil {
			return err
		}
		s, err := openStore(ctx, db)
		if err != nil {
			return err
		}
		defer s.Close()
		u, password, err := createUser(ctx, s, *login, *name, r, "", "user.create")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created %s %s (id %d); temporary password (shown once; to be changed at first sign-in): %s\n", r, u.LoginID, u.ID, password)
		return nil
	}
}

func roleNames() []string {
	var out []string
	for _, r := range api.Roles {
		out = append(out, string(r))
	}
	return out
}

func userListFlags(fs *flag.FlagSet) func(context.Context, string, io.Writer) error {
	return func(ctx context.Context, db string, out io.Writer) error {
		s, err := openStore(ctx, db)
		if err != nil {
			return err
		}
		defer s.Close()
		users, err := s.ListUsers(ctx, "")
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tLOGIN\tROLE\tNAME\tSTATE\tLAST LOGIN")
		for _, u := range users {
			state := []string{}
			for _, f := range []struct {
				on   bool
				word string
			}{{!u.IsActive, "deactivated"}, {u.IsLocked, "locked"}, {u.MustChangePassword, "must change password"}} {
				if f.on {
					state = append(state, f.word)
				}
			}
			if len(state) == 0 {
				state = append(state, "active")
			}
			last := "never"
			if u.LastLogin != nil {
				last = u.LastLogin.Local().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.LoginID, u.Role, u.Name, strings.Join(state, ", "), last)
		}
		return w.Flush()
	}
}

// userChangeFlags makes the commands that change one account: passwd, unlock, deactivate.
func userChangeFlags(verb string) func(fs *flag.FlagSet) func(context.Context, string, io.Writer) error {
	return func(fs *flag.FlagSet) func(context.Context, string, io.Writer) error {
		login := fs.String("login", "", "login ID of the account")
		return func(ctx context.Context, db string, out io.Writer) error {
			s, err := openStore(ctx, db)
			if err != nil {
				return err
			}
			defer s.Close()
			u, err := s.UserByLoginID(ctx, *login)
			if err != nil {
				return err
			}
			var password, hash string
			if verb == "passwd" {
				password = auth.RandomHex(10)
				h, err := passwordHasher()
				if err == nil {
					hash, err = h.Hash(password)
				}
				if err != nil {
					return err
				}
			}
			action := map[string]string{"passwd": "user.password_reset", "unlock": "user.unlock", "deactivate": "user.deactivate"}[verb]
			actx := audited(ctx, action, fmt.Sprint(u.ID), u.LoginID)
			now := time.Now()
			if _, err := s.UpdateUser(actx, u.ID, func(u *server.User) error {
				switch verb {
				case "passwd":
					u.PasswordHash, u.MustChangePassword, u.TokensValidAfter = hash, true, now
				case "unlock":
					u.IsLocked, u.LockedAt = false, nil
				case "deactivate":
					u.IsActive, u.TokensValidAfter = false, now
				}
				return nil
			}); err != nil {
				return err
			}
			switch verb {
			case "passwd":
				fmt.Fprintf(out, "%s: temporary password (shown once; to be changed at first sign-in): %s; its sessions are ended\n", u.LoginID, password)
			case "unlock":
				fmt.Fprintf(out, "%s: unlocked\n", u.LoginID)
			case "deactivate":
				fmt.Fprintf(out, "%s: deactivated; its sessions are ended\n", u.LoginID)
			}
			return nil
		}
	}
}
