# Evaluates a Vagrantfile against a recording stand-in for Vagrant's configuration DSL and prints,
# as JSON, every machine with its hostname, private network, provider settings and any provisioner.
# Usage: ruby vagrantfile-probe.rb path/to/Vagrantfile
require "json"

class Recorder
  attr_reader :calls
  def initialize(path = [])
    @path = path
    @calls = {}
    @children = {}
  end

  def method_missing(name, *args, &block)
    key = name.to_s
    if key.end_with?("=")
      @calls[key.chomp("=")] = args.first
      return args.first
    end
    child = (@children[key] ||= Recorder.new(@path + [key]))
    (@calls[key] ||= []) << args unless args.empty?
    child
  end

  def respond_to_missing?(*) = true
  def to_h = @calls.merge(@children.transform_values(&:to_h).reject { |_, v| v.empty? })
end

class VmRecorder < Recorder
  attr_reader :machines, :networks, :providers, :provisioners
  def initialize
    super
    @machines = []
    @networks = []
    @providers = {}
    @provisioners = []
  end

  def define(name, **_opts)
    node = MachineRecorder.new(name)
    yield(node)
    @machines << node
  end

  def network(type, **opts) = @networks << { type: type, **opts }
  def provider(name)
    r = (@providers[name.to_s] ||= Recorder.new)
    yield(r)
  end
  def provision(*args, **opts) = @provisioners << [args, opts]
end

class MachineRecorder
  attr_reader :name, :vm
  def initialize(name)
    @name = name
    @vm = VmRecorder.new
  end
end

class ConfigRecorder
  attr_reader :vm, :ssh
  def initialize
    @vm = VmRecorder.new
    @ssh = Recorder.new
  end
end

module Vagrant
  @config = ConfigRecorder.new
  class << self
    attr_reader :config
    def require_version(*) = nil
    def configure(_version)
      yield(@config)
    end
  end
end

load ARGV.fetch(0)
c = Vagrant.config
out = {
  box: c.vm.calls["box"],
  box_url: c.vm.calls["box_url"],
  provisioners: c.vm.provisioners.size,
  ssh: c.ssh.calls,
  providers: c.vm.providers.transform_values(&:to_h),
  synced_folders: c.vm.calls["synced_folder"] || [],
  machines: c.vm.machines.map do |m|
    {
      name: m.name,
      hostname: m.vm.calls["hostname"],
      networks: m.vm.networks,
      providers: m.vm.providers.transform_values(&:to_h),
      provisioners: m.vm.provisioners.size,
    }
  end,
}
puts JSON.generate(out)
