from ilpregions.cli.main import run

run()
