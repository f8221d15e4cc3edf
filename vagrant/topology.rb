# topology.rb turns KUBELAB_* environment variables into the list of lab machines
# the Vagrantfile creates. It is plain Ruby with no Vagrant in it, so it can be
# tested on its own (vagrant/vagrant_test.go runs it through `ruby`), and so the
# rules live in one place:
#
#   - controllers are controller-0.. at .10, .11, ...; workers are worker-0.. at
#     .20, .21, ... of a /24 private network (10.240.0.0/24, as in Kubernetes the
#     hard way), so at most 10 of each;
#   - KUBELAB_TOPOLOGY picks a shape ("default": 1 controller + 2 workers, "ha":
#     3 controllers, an etcd cluster that survives losing one, + 2 workers);
#     KUBELAB_CONTROLLERS and KUBELAB_WORKERS override the counts;
#   - memory (MiB) and CPUs per role, with KUBELAB_MEMORY/KUBELAB_CPUS for all.
#
# A bad value raises Topology::Error with a message that names the variable and
# says what is allowed; the Vagrantfile shows it and stops before any VM exists.
require "ipaddr"
require "json"

module Topology
  class Error < StandardError; end

  Machine = Struct.new(:name, :role, :ip, :memory, :cpus, keyword_init: true) do
    def to_h
      { "name" => name, "role" => role, "ip" => ip, "memory" => memory, "cpus" => cpus }
    end
  end

  SHAPES = {
    "default" => { controllers: 1, workers: 2 },
    "ha" => { controllers: 3, workers: 2 },
  }.freeze

  # First host number of each role in the /24: controllers .10-.19, workers .20-.29.
  FIRST_HOST = { "controller" => 10, "worker" => 20 }.freeze
  MAX_PER_ROLE = 10

  DEFAULTS = {
    "controller" => { memory: 2048, cpus: 2 },
    "worker" => { memory: 2048, cpus: 2 },
  }.freeze

  module_function

  # machines returns the machines for an environment (a Hash like ENV).
  def machines(env)
    shape_name = env.fetch("KUBELAB_TOPOLOGY", "default").to_s.strip
    shape_name = "default" if shape_name.empty?
    shape = SHAPES[shape_name] or
      raise Error, "KUBELAB_TOPOLOGY=#{shape_name.inspect} is not a topology: use one of #{SHAPES.keys.join(', ')}"

    prefix = subnet_prefix(env.fetch("KUBELAB_SUBNET", "10.240.0.0/24"))
    counts = {
      "controller" => count(env, "KUBELAB_CONTROLLERS", shape[:controllers], min: 1),
      "worker" => count(env, "KUBELAB_WORKERS", shape[:workers], min: 0),
    }

    counts.flat_map do |role, n|
      up = role.upcase
      memory = integer(env, "KUBELAB_#{up}_MEMORY", integer(env, "KUBELAB_MEMORY", DEFAULTS[role][:memory], min: 256), min: 256)
      cpus = integer(env, "KUBELAB_#{up}_CPUS", integer(env, "KUBELAB_CPUS", DEFAULTS[role][:cpus], min: 1), min: 1)
      (0...n).map do |i|
        Machine.new(name: "#{role}-#{i}", role: role, ip: "#{prefix}.#{FIRST_HOST[role] + i}",
                    memory: memory, cpus: cpus)
      end
    end
  end

  # hosts_entries is what every machine's /etc/hosts gets: "ip name" per machine.
  def hosts_entries(machines)
    machines.map { |m| "#{m.ip} #{m.name}" }
  end

  # subnet_prefix checks that a subnet is an IPv4 /24 and returns its first three octets.
  def subnet_prefix(subnet)
    addr, len = subnet.to_s.strip.split("/", 2)
    begin
      ip = IPAddr.new(addr.to_s)
    rescue IPAddr::Error
      ip = nil
    end
    unless ip&.ipv4? && len == "24" && ip.to_s == addr && addr.end_with?(".0")
      raise Error, "KUBELAB_SUBNET=#{subnet.inspect} is not an IPv4 /24 network like 10.240.0.0/24 " \
                   "(the machines take .10-.19 and .20-.29 of it)"
    end
    addr.split(".")[0, 3].join(".")
  end

  def count(env, var, default, min:)
    n = integer(env, var, default, min: min)
    if n > MAX_PER_ROLE
      raise Error, "#{var}=#{n} is too many: at most #{MAX_PER_ROLE} (each role has ten addresses in the /24)"
    end
    n
  end

  def integer(env, var, default, min:)
    raw = env[var].to_s.strip
    return default if raw.empty?
    unless raw.match?(/\A\d+\z/) && raw.to_i >= min
      raise Error, "#{var}=#{raw.inspect} must be a whole number, at least #{min}"
    end
    raw.to_i
  end
end

# `ruby vagrant/topology.rb` prints the machines for the current environment as
# JSON: a quick way to see what `vagrant up` would create, and what the tests read.
if $PROGRAM_NAME == __FILE__
  begin
    puts JSON.pretty_generate(Topology.machines(ENV).map(&:to_h))
  rescue Topology::Error => e
    warn "topology: #{e.message}"
    exit 1
  end
end
