"""Runs emitted keytrail jobs one after another in one Spark session (the JVM's start dominates
a small job), as tests/cli/engines.rs does:

    tests/engines/engines.sh spark-submit tests/engines/run_jobs.py \
        JOB.py INPUT OUTPUT [OPTIONS] [--- JOB.py INPUT OUTPUT [OPTIONS]]...
"""
import importlib.util
import sys

from pyspark.sql import SparkSession


def main(argv):
    runs, run = [], []
    for a in argv:
        if a == "---":
            runs.append(run)
            run = []
        else:
            run.append(a)
    runs.append(run)
    spark = SparkSession.builder.appName("keytrail-tests").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    for n, (job_path, *args) in enumerate(runs):
        spec = importlib.util.spec_from_file_location("keytrail_job_%d" % n, job_path)
        job = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(job)
        job.main(args, spark=spark)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
