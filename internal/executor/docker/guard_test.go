package docker

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// guardedSlots is a slot executor whose guard must be open: in CI a runner
// that cannot guard its networks fails the test.
func guardedSlots(t *testing.T) (*Executor, string) {
	t.Helper()
	e, img := slotExecutor(t)
	if e.guard.g == nil {
		testenv.Missing(t, "nftables with CAP_NET_ADMIN (run the tests as root) for the network guard")
	}
	return e, img
}

// TestSlotNetworksStayApartWhileTheEngineCreatesNetworks: a job on one slot
// network keeps trying to connect to a listener of a job on another while
// networks are created and removed in a loop, which is when the engine's own
// isolation rules are being rebuilt. Without the guard, 53 of these
// connections got through in 40 s on Docker 20.10; with it, none may. The
// listener's own job reaching it shows the guard leaves a network's own
// traffic alone.
func TestSlotNetworksStayApartWhileTheEngineCreatesNetworks(t *testing.T) {
	t.Parallel()
	e, img := guardedSlots(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listener, prober := newJob(t), newJob(t)
	for _, j := range []*executor.Job{listener, prober} {
		if err := e.Setup(ctx, j); err != nil {
			t.Fatal(err)
		}
		defer teardown(t, e, j)
	}
	addr := startListener(t, ctx, e, listener, img)

	churned := make(chan int)
	go func() { churned <- churnNetworks(t, e, 10*time.Second) }()
	res, out := run(t, ctx, e, prober, &executor.Step{Name: "probe", Image: img, Commands: []string{
		`end=$(( $(date +%s) + 10 ))`,
		`for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
		   ( n=0; while [ $(date +%s) -lt $end ]; do n=$((n+1)); nc -w 1 ` + addr + ` 8080 </dev/null 2>/dev/null | grep -q HELLO && echo GOT; done; echo "tries=$n" ) &
		 done; wait`,
	}})
	n := <-churned
	tries := 0
	for _, m := range regexp.MustCompile(`tries=(\d+)`).FindAllStringSubmatch(out, -1) {
		k, _ := strconv.Atoi(m[1])
		tries += k
	}
	if res.ExitCode != 0 || tries < 16 || n < 3 {
		t.Fatalf("the prober did not probe: %+v, %d tries while %d networks were created\n%s", res, tries, n, out)
	}
	if got := len(regexp.MustCompile(`(?m)^GOT$`).FindAllString(out, -1)); got > 0 {
		t.Fatalf("%d of %d connections from another slot network reached the listener while %d networks were created", got, tries, n)
	}
	res, out = run(t, ctx, e, listener, &executor.Step{Name: "self", Image: img, Commands: []string{
		"nc -w 3 " + addr + " 8080 </dev/null"}})
	if res.ExitCode != 0 || !strings.Contains(out, "HELLO") {
		t.Fatalf("the listener's own network cannot reach it: %+v\n%s", res, out)
	}
}

// startListener runs, in job, a step that answers HELLO on port 8080 until ctx
// ends, and returns its address.
func startListener(t *testing.T, ctx context.Context, e *Executor, job *executor.Job, img string) string {
	t.Helper()
	w := newWatcher("address=")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = e.Run(ctx, job, &executor.Step{Name: "listen", Image: img, Commands: []string{
			`echo "address=$(hostname -i) "`,
			`while :; do echo HELLO | nc -l -p 8080; done`,
		}}, w)
	}()
	t.Cleanup(wg.Wait)
	re := regexp.MustCompile(`address=([0-9.]+) `)
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(w.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no address in the listener's output:\n%s", w.String())
	return ""
}

// churnNetworks creates and removes networks of this runner for d and returns
// how many it created.
func churnNetworks(t *testing.T, e *Executor, d time.Duration) int {
	cli := dockerClient(t)
	ctx := context.Background()
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); n++ {
		name := "narwhal-churn-" + randomHex(4)
		_, err := cli.NetworkCreate(ctx, name, network.CreateOptions{Labels: map[string]string{
			LabelManaged: "true", LabelRunner: e.cfg.RunnerID}})
		if err != nil {
			t.Errorf("create network: %v", err)
			return n
		}
		if err := cli.NetworkRemove(ctx, name); err != nil {
			t.Errorf("remove network: %v", err)
			return n
		}
	}
	return n
}

// TestARunnerThatCannotGuardSaysSo: with the engine's bridges out of reach (a
// remote engine), strict isolation refuses to start and auto isolation starts
// with a warning and no guard.
func TestARunnerThatCannotGuardSaysSo(t *testing.T) {
	remote := network.Inspect{Options: map[string]string{bridgeOption: "nosuchbr0"}}
	strict := newExecutor(nil, Config{Isolation: IsolationStrict, RunnerID: "r1"}, slog.New(slog.DiscardHandler))
	if err := strict.openGuard(context.Background(), remote); err == nil || !strings.Contains(err.Error(), "nosuchbr0") {
		t.Fatalf("strict isolation without a guard: %v, want an error naming the bridge", err)
	}
	var logs testenv.Buffer
	auto := newExecutor(nil, Config{Isolation: IsolationAuto, RunnerID: "r1"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := auto.openGuard(context.Background(), remote); err != nil {
		t.Fatalf("auto isolation without a guard: %v, want a warning", err)
	}
	if auto.guard.g != nil || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "nosuchbr0") {
		t.Fatalf("auto isolation: guard %v, logs %q", auto.guard.g, logs.String())
	}
}
