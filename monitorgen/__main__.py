from monitorgen.cli import run

run()
