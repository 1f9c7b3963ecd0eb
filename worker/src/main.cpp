// wharf-worker: runs jobs from the queues named by --queues (see worker_main()).
#include "wharf/worker/runtime.hpp"

int main(int argc, char** argv) { return wharf::worker::worker_main(argc, argv); }
