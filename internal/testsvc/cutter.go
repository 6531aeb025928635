package testsvc

import (
	"io"
	"net"
	"sync"
)

// Cutter is a TCP forwarder on loopback that can cut every open connection at once, mid-transfer, the way
// a pulled cable or a dropped VPN does. Point the client at URL instead of the server.
type Cutter struct {
	URL    string
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]bool
	cuts  int
}

// NewCutter forwards a new loopback port to target (host:port).
func NewCutter(target string) (*Cutter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &Cutter{URL: "http://" + ln.Addr().String(), ln: ln, target: target, conns: map[net.Conn]bool{}}
	go c.serve()
	return c, nil
}

func (c *Cutter) serve() {
	for {
		in, err := c.ln.Accept()
		if err != nil {
			return
		}
		go c.pipe(in)
	}
}

func (c *Cutter) pipe(in net.Conn) {
	out, err := net.Dial("tcp", c.target)
	if err != nil {
		in.Close()
		return
	}
	c.mu.Lock()
	c.conns[in], c.conns[out] = true, true
	c.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(out, in); out.Close() })
	wg.Go(func() { io.Copy(in, out); in.Close() })
	wg.Wait()
	c.mu.Lock()
	delete(c.conns, in)
	delete(c.conns, out)
	c.mu.Unlock()
}

// Cut closes every open connection; new ones are accepted again at once. It returns how many were open.
func (c *Cutter) Cut() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for conn := range c.conns {
		conn.Close()
		n++
	}
	c.cuts++
	return n / 2
}

// Close stops the forwarder and cuts what is open.
func (c *Cutter) Close() {
	c.ln.Close()
	c.Cut()
}
