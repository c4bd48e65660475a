package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Every part of a run (the NATS server, the receiver, the worker, the two
// ceiling loads) is this same binary started again with roleEnv set, so that each
// has its own process: its CPU time, peak RSS, heap and goroutines are its
// own and not mixed with the load generator's. A child prints one line
// "ready <info>" when it is up and then answers commands, one a line, on
// standard input:
//
//	stats              one JSON line of Stats
//	reset              restart the heap and goroutine peaks
//	cpuprofile <path>  start a CPU profile
//	stopcpu            stop it
//	memprofile <path>  write an allocation profile
//	snapshot <path>    write a heap profile (in use, after a GC) to path
//	                   and a goroutine profile to path.goroutine
//	<role command>     whatever the role adds (run, ...)
//
// Standard input closing ends the child.

// Stats is what a process reports about itself.
type Stats struct {
	// Goroutines is the current number of goroutines; GoroutinesPeak the
	// highest sampled since the last reset.
	Goroutines     int `json:"goroutines"`
	GoroutinesPeak int `json:"goroutines_peak"`
	// HeapInuse is the current Go heap in use; HeapInusePeak the highest
	// sampled since the last reset.
	HeapInuse     uint64 `json:"heap_inuse"`
	HeapInusePeak uint64 `json:"heap_inuse_peak"`
	// StackInusePeak is the highest goroutine stack memory sampled since
	// the last reset.
	StackInusePeak uint64 `json:"stack_inuse_peak"`
	// RSS and HWM are VmRSS and VmHWM (peak RSS) of the process.
	RSS uint64 `json:"rss"`
	HWM uint64 `json:"hwm"`
	// CPU is user plus system CPU seconds used by the process so far.
	CPU float64 `json:"cpu"`
	// FDs is the number of open file descriptors (connections included).
	FDs int `json:"fds"`
	// Allocated is the bytes the process has allocated on the Go heap so
	// far, and GCCPU the CPU seconds its garbage collector has spent.
	Allocated uint64  `json:"allocated"`
	GCCPU     float64 `json:"gc_cpu"`
}

// sampler follows the heap and goroutine peaks of this process.
type sampler struct {
	heapPeak  atomic.Uint64
	stackPeak atomic.Uint64
	goPeak    atomic.Int64
}

// run samples every interval until stop is closed.
func (s *sampler) run(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// heapSamples are the runtime metrics a sample reads: runtime/metrics,
// unlike runtime.ReadMemStats, does not stop the world, so sampling every
// few milliseconds costs the measured process next to nothing. The heap in
// use is MemStats.HeapInuse: the objects and the free room in their spans.
var heapSamples = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/stacks:bytes",
}

func (s *sampler) sample() (heap uint64, goroutines int) {
	ms := make([]metrics.Sample, len(heapSamples))
	for i, name := range heapSamples {
		ms[i].Name = name
	}
	metrics.Read(ms)
	heap = ms[0].Value.Uint64() + ms[1].Value.Uint64()
	raise(&s.heapPeak, heap)
	raise(&s.stackPeak, ms[2].Value.Uint64())
	g := runtime.NumGoroutine()
	for {
		old := s.goPeak.Load()
		if int64(g) <= old || s.goPeak.CompareAndSwap(old, int64(g)) {
			break
		}
	}
	return heap, g
}

func (s *sampler) reset() {
	s.heapPeak.Store(0)
	s.stackPeak.Store(0)
	s.goPeak.Store(0)
	s.sample()
}

func raise(v *atomic.Uint64, n uint64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// stats reports this process.
func (s *sampler) stats() Stats {
	heap, g := s.sample()
	rss, hwm := memory("self")
	gc := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(gc)
	return Stats{
		Allocated: gc[0].Value.Uint64(), GCCPU: gc[1].Value.Float64(),
		Goroutines: g, GoroutinesPeak: int(s.goPeak.Load()),
		HeapInuse: heap, HeapInusePeak: s.heapPeak.Load(), StackInusePeak: s.stackPeak.Load(),
		RSS: rss, HWM: hwm, CPU: cpuSeconds(syscall.RUSAGE_SELF), FDs: openFiles(),
	}
}

// memory returns VmRSS and VmHWM in bytes of the process pid ("self" or a
// number), zeros when /proc cannot tell.
func memory(pid string) (rss, hwm uint64) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// openFiles counts this process's open file descriptors, -1 when /proc
// cannot tell.
func openFiles() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(fds)
}

// cpuSeconds is user plus system time from getrusage(who).
func cpuSeconds(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return tv(ru.Utime) + tv(ru.Stime)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// command is a role's own command handler: it gets the words after the
// command name and returns the reply line.
type command func(args []string) (string, error)

// serve is the child side of the protocol: it announces ready with info and
// answers commands from in on out until in closes.
func serve(in io.Reader, out io.Writer, info string, commands map[string]command) error {
	s := &sampler{}
	stop := make(chan struct{})
	defer close(stop)
	go s.run(20*time.Millisecond, stop)
	w := bufio.NewWriter(out)
	reply := func(line string) error {
		if _, err := w.WriteString(line + "\n"); err != nil {
			return err
		}
		return w.Flush()
	}
	if err := reply("ready " + info); err != nil {
		return err
	}
	var cpuProfile *os.File
	defer func() {
		if cpuProfile != nil {
			pprof.StopCPUProfile()
			cpuProfile.Close()
		}
	}()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		words := strings.Fields(sc.Text())
		if len(words) == 0 {
			continue
		}
		var (
			line string
			err  error
		)
		switch words[0] {
		case "stats":
			var b []byte
			b, err = json.Marshal(s.stats())
			line = string(b)
		case "reset":
			s.reset()
			line = "ok"
		case "cpuprofile":
			if len(words) != 2 || cpuProfile != nil {
				err = errors.New("usage: cpuprofile <path>, once")
				break
			}
			if cpuProfile, err = os.Create(words[1]); err == nil {
				if err = pprof.StartCPUProfile(cpuProfile); err != nil {
					cpuProfile.Close()
					cpuProfile = nil
				}
			}
			line = "ok"
		case "stopcpu":
			if cpuProfile != nil {
				pprof.StopCPUProfile()
				err = cpuProfile.Close()
				cpuProfile = nil
			}
			line = "ok"
		case "memprofile":
			if len(words) != 2 {
				err = errors.New("usage: memprofile <path>")
				break
			}
			err = writeHeapProfile(words[1])
			line = "ok"
		case "snapshot":
			if len(words) != 2 {
				err = errors.New("usage: snapshot <path>")
				break
			}
			err = writeSnapshot(words[1])
			line = "ok"
		default:
			cmd, ok := commands[words[0]]
			if !ok {
				err = fmt.Errorf("unknown command %q", words[0])
				break
			}
			line, err = cmd(words[1:])
		}
		if err != nil {
			line = "error " + strings.ReplaceAll(err.Error(), "\n", " ")
		}
		if err := reply(line); err != nil {
			return err
		}
	}
	return sc.Err()
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeSnapshot writes the heap in use (after a GC) to path and every
// goroutine's stack, grouped, to path.goroutine.
func writeSnapshot(path string) error {
	runtime.GC()
	for name, file := range map[string]string{"heap": path, "goroutine": path + ".goroutine"} {
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// child is the parent side: one started role.
type child struct {
	role string
	// name is what the report calls the child's peak RSS; empty: role.
	name   string
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *lockedBuffer
	info   string
	mu     sync.Mutex
	done   chan struct{} // closed when the child has exited, after release
	usage  *syscall.Rusage
}

// lockedBuffer keeps the last bytes a child wrote on standard error.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		b.buf.Next(b.buf.Len() - 32<<10)
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startChild starts this binary again as role with args and extra
// environment, and waits for its ready line.
func startChild(role string, args []string, env []string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	// The worker's settings are the bench's alone: inherited HOOKWORKER_
	// variables (proxies, a NATS URL) would skew or misdirect the run, and
	// OTEL_ ones would trace runs meant to run without.
	inherited := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "HOOKWORKER_") || strings.HasPrefix(kv, "OTEL_") || strings.HasPrefix(kv, roleEnv+"=")
	})
	cmd.Env = append(append(inherited, roleEnv+"="+role), env...)
	c := &child{role: role, cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = c.stderr
	if c.in, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewScanner(stdout)
	c.out.Buffer(make([]byte, 64<<10), 16<<20)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", role, err)
	}
	line, err := c.read()
	if err != nil {
		c.stop()
		return nil, err
	}
	info, ok := strings.CutPrefix(line, "ready")
	if !ok {
		c.stop()
		return nil, fmt.Errorf("%s: unexpected first line %q", role, line)
	}
	c.info = strings.TrimSpace(info)
	return c, nil
}

func (c *child) read() (string, error) {
	if !c.out.Scan() {
		err := c.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("%s: %w; its last output: %s", c.role, err, tail(c.stderr.String(), 2000))
	}
	return c.out.Text(), nil
}

// call sends one command and returns its reply.
func (c *child) call(words ...string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.in, strings.Join(words, " ")+"\n"); err != nil {
		return "", fmt.Errorf("%s: %w", c.role, err)
	}
	line, err := c.read()
	if err != nil {
		return "", err
	}
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return "", fmt.Errorf("%s %s: %s", c.role, words[0], msg)
	}
	return line, nil
}

// callJSON sends one command and decodes its JSON reply into v.
func (c *child) callJSON(v any, words ...string) error {
	line, err := c.call(words...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(line), v); err != nil {
		return fmt.Errorf("%s %s: reply %q: %w", c.role, words[0], line, err)
	}
	return nil
}

func (c *child) stats() (Stats, error) {
	var s Stats
	err := c.callJSON(&s, "stats")
	return s, err
}

// release closes the child's standard input, which tells it to exit, and
// does not wait: stop collects it.
func (c *child) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return
	}
	c.done = make(chan struct{})
	if c.in != nil {
		c.in.Close()
	}
	go func() {
		c.cmd.Wait()
		close(c.done)
	}()
}

// stop releases the child, waits for it to exit (killing it after a grace
// period) and keeps its resource usage.
func (c *child) stop() {
	c.release()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		c.cmd.Process.Kill()
		<-c.done
	}
	if st := c.cmd.ProcessState; st != nil {
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			c.usage = ru
		}
	}
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
