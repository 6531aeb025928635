package testsvc

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/neuronova/neuronova/internal/testenv"
)

// netnsPrefix names the network namespaces of the tests; the PID after it tells whose they are.
const netnsPrefix = "neuronova-test-"

// otherHost is a second host on this machine: a network namespace joined to this one by a veth pair. This
// machine has Local on its end, the namespace has Remote on the other (both in 198.51.100.0/24, TEST-NET-2).
type otherHost struct {
	ns            string
	Local, Remote netip.Addr
}

// newOtherHost creates the namespace and its link (root only) and removes them when the test ends.
func newOtherHost(t *testing.T) *otherHost {
	t.Helper()
	ip := findProgram(t, "apt-get install iproute2", "ip", "/usr/sbin/ip", "/sbin/ip")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root", "create a second host (a network namespace and a veth pair) to store from",
			"run the tests as root, as CI does")
	}
	sweepNetns(ip)
	run := func(args ...string) error {
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	h, err := freeSubnet()
	if err != nil {
		t.Fatal(err)
	}
	local, remote := fmt.Sprintf("nnl%d", os.Getpid()), fmt.Sprintf("nnr%d", os.Getpid())
	if err := run("netns", "add", h.ns); err != nil {
		testenv.Missing(t, "network namespaces", "create a second host to store from", "run the tests as root: "+err.Error())
	}
	t.Cleanup(func() { run("netns", "del", h.ns) }) // deleting the namespace deletes the veth pair
	for _, args := range [][]string{
		{"link", "add", local, "type", "veth", "peer", "name", remote, "netns", h.ns},
		{"addr", "add", h.Local.String() + "/30", "dev", local},
		{"link", "set", local, "up"},
		{"-n", h.ns, "addr", "add", h.Remote.String() + "/30", "dev", remote},
		{"-n", h.ns, "link", "set", remote, "up"},
		{"-n", h.ns, "link", "set", "lo", "up"},
	} {
		if err := run(args...); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// freeSubnet picks a /30 of 198.51.100.0/24 that no address of this machine is in (other test binaries may
// hold one) and names the namespace after this process.
func freeSubnet() (*otherHost, error) {
	addrs, err := hostAddrs()
	if err != nil {
		return nil, err
	}
	for try := range 64 {
		k := byte((os.Getpid() + try) % 64)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, 4 * k}), 30)
		taken := false
		for _, a := range addrs {
			taken = taken || p.Contains(a)
		}
		if !taken {
			return &otherHost{ns: fmt.Sprintf("%s%d", netnsPrefix, os.Getpid()),
				Local: netip.AddrFrom4([4]byte{198, 51, 100, 4*k + 1}), Remote: netip.AddrFrom4([4]byte{198, 51, 100, 4*k + 2})}, nil
		}
	}
	return nil, fmt.Errorf("every /30 of 198.51.100.0/24 is in use here")
}

// Command runs a program on the other host.
func (h *otherHost) Command(program string, args ...string) *exec.Cmd {
	ip, _ := exec.LookPath("ip")
	if ip == "" {
		ip = "/usr/sbin/ip"
	}
	return exec.Command(ip, append([]string{"netns", "exec", h.ns, program}, args...)...)
}

// sweepNetns deletes the namespaces of test binaries that no longer run (and so their veth pairs).
func sweepNetns(ip string) {
	out, _ := exec.Command(ip, "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, netnsPrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(rest)
		if err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
			exec.Command(ip, "netns", "del", name).Run()
		}
	}
}
