from rudenim.cases.models import Placement, PlacementKind
from rudenim.extensions import db

def test_smoke(client, login_as, app):
    with app.app_context():
        db.session.add(Placement(kind=PlacementKind.CENTRE, name="Blok A", capacity=1))
        db.session.add(Placement(kind=PlacementKind.HOUSING, name="Wisma Bahagia", capacity=40))
        db.session.commit()
    login_as("supervisor")
    data = dict(full_name="Mohammad Rahman", sex="male", nationality="MM", legal_category="asylum_seeker",
                arrived_on="2024-03-01", status="detained", placement_id="1", claimed_ethnicity="Rohingya",
                unhcr_registration="354-24C00001", vulnerabilities=["medical"], aliases="Mohd Rahman\nRahman")
    r = client.post("/cases/new", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[-3000:]
    r = client.get(r.headers["Location"])
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "KPG-" in page
    data2 = dict(data, full_name="Muhammad Rehman", unhcr_registration="")
    r = client.post("/cases/new", data=data2)
    page = r.get_data(as_text=True)
    assert "possible-matches" in page, page[-3000:]
    r = client.get("/cases/?q=mohamed")
    assert "Rahman" in r.get_data(as_text=True)
    r = client.get("/cases/?q=354-24C00001")
    assert "Rahman" in r.get_data(as_text=True)
    r = client.get("/cases/1/edit")
    assert r.status_code == 200
    r = client.post("/cases/1/custody", data=dict(status="community_housing", placement_id="2", effective_on="2024-05-01", reason="moved"))
    assert r.status_code == 302
    r = client.get("/cases/1")
    print(r.get_data(as_text=True)[r.get_data(as_text=True).index("<main"):][:6000])
