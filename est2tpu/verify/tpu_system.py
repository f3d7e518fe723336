"""A TPU system that is not there: N cores on one local host.

TPUEstimator asks the TensorFlow master which TPU devices it has before it builds a TPU
graph (``tpu_system_metadata._query_tpu_system_metadata``).  Answered with this, it
builds its real TPU graph on the CPU, with ``/task:0/device:TPU:i`` placements; nothing
asks for the devices again until a session would run the graph, which verify never does.
"""

from tensorflow.python.client import session as session_lib
from tensorflow.python.tpu import tpu_system_metadata

_DEVICE = "/job:localhost/replica:0/task:0/device:{}:{}"


def metadata(num_cores: int) -> tpu_system_metadata.TPUSystemMetadata:
    devices = [session_lib._DeviceAttributes(_DEVICE.format("CPU", 0), "CPU", 0, 0)]
    devices += [session_lib._DeviceAttributes(_DEVICE.format("TPU", i), "TPU", 0, 0) for i in range(num_cores)]
    return tpu_system_metadata.TPUSystemMetadata(
        num_cores=num_cores, num_hosts=1, num_of_cores_per_host=num_cores, topology=None, devices=devices)


def query(num_cores: int):
    """A stand-in for ``_query_tpu_system_metadata`` that answers ``num_cores`` cores."""

    def _query_tpu_system_metadata(master_address, cluster_def=None, query_topology=False):
        if query_topology:
            raise NotImplementedError(
                "est2tpu verify cannot check model parallelism (TPUConfig.num_cores_per_replica): "
                "it needs the topology of a real TPU")
        return metadata(num_cores)

    return _query_tpu_system_metadata
