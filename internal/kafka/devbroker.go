package kafka

import (
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DevBroker is an in-memory, single-node Kafka (franz-go's kfake) for the
// demo and tests. It is not durable: a restarted broker starts empty.
type DevBroker struct {
	cluster *kfake.Cluster
	addr    string
}

// StartDevBroker listens on addr (host:port, port 0 picks one) and creates
// the topics with the given partitions. Topics are also auto-created on
// request, as a default Kafka does.
func StartDevBroker(addr string, partitions int32, topics ...string) (*DevBroker, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dev broker: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("dev broker: %q is not a loopback address; the dev broker has no authentication", addr)
	}
	if partitions <= 0 {
		partitions = 1
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(partitions)),
		// kfake listens on 127.0.0.1:<port>; bind exactly the asked address.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("dev broker: %w", err)
	}
	return &DevBroker{cluster: c, addr: c.ListenAddrs()[0]}, nil
}

// Addr is the broker's host:port.
func (b *DevBroker) Addr() string { return b.addr }

// Close stops the broker; its data is gone.
func (b *DevBroker) Close() { b.cluster.Close() }
