//! TEMPORARY stub until the simulator branch is merged.
use std::net::SocketAddr;
#[derive(Clone)]
pub struct Simulator;
pub struct SimConfig;
impl SimConfig {
    pub fn realtime() -> Self {
        SimConfig
    }
}
impl Simulator {
    pub async fn start(_c: SimConfig, _l: SocketAddr) -> std::io::Result<Simulator> {
        Err(std::io::Error::other("stub"))
    }
    pub fn base_url(&self) -> String {
        String::new()
    }
    pub fn api_key(&self) -> &str {
        ""
    }
    pub fn org_id(&self) -> &str {
        ""
    }
}
pub async fn run_standalone(_l: SocketAddr) -> std::io::Result<()> {
    Ok(())
}
