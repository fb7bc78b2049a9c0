// Hospitality, food, tourism, personal services and cleaning. Written for jobbert; one title per line: en | de | es | zh
export default `
chef | Koch | cocinero | 厨师
head chef | Küchenchef | jefe de cocina | 主厨
sous chef | Sous-Chef | segundo de cocina | 副主厨
pastry chef | Konditor | pastelero | 糕点师
commis chef | Jungkoch | ayudante de cocina | 厨房帮工
kitchen assistant | Küchenhilfe | auxiliar de cocina | 厨房助理
dishwasher | Spüler | friegaplatos | 洗碗工
baker | Bäcker | panadero | 面包师
butcher | Fleischer | carnicero | 屠夫
fishmonger | Fischhändler | pescadero | 鱼贩
waiter | Kellner | camarero | 服务员
restaurant waiter | Restaurantfachmann | camarero de restaurante | 餐厅服务员
head waiter | Oberkellner | jefe de sala | 领班
bartender | Barkeeper | barman | 调酒师
barista | Barista | barista | 咖啡师
sommelier | Sommelier | sumiller | 侍酒师
restaurant manager | Restaurantleiter | gerente de restaurante | 餐厅经理
catering manager | Catering-Manager | responsable de catering | 餐饮经理
fast food worker | Mitarbeiter in der Systemgastronomie | empleado de comida rápida | 快餐店员工
hotel manager | Hoteldirektor | director de hotel | 酒店经理
hotel receptionist | Hotelrezeptionist | recepcionista de hotel | 酒店前台
front office manager | Empfangschef | jefe de recepción | 前厅经理
concierge | Concierge | conserje de hotel | 礼宾员
housekeeper | Hauswirtschafter | gobernanta | 客房管家
room attendant | Zimmermädchen | camarera de pisos | 客房服务员
cleaner | Reinigungskraft | limpiador | 清洁工
office cleaner | Büroreiniger | limpiador de oficinas | 办公室保洁员
building cleaner | Gebäudereiniger | limpiador de edificios | 楼宇保洁员
janitor | Hausmeister | conserje | 门卫兼勤杂工
laundry worker | Wäschereiarbeiter | trabajador de lavandería | 洗衣工
hairdresser | Friseur | peluquero | 理发师
barber | Herrenfriseur | barbero | 男士理发师
beautician | Kosmetiker | esteticista | 美容师
nail technician | Nageldesigner | manicurista | 美甲师
makeup artist | Maskenbildner | maquillador | 化妆师
personal trainer | Personal Trainer | entrenador personal | 私人教练
fitness instructor | Fitnesstrainer | monitor de fitness | 健身教练
yoga instructor | Yogalehrer | profesor de yoga | 瑜伽教练
swimming instructor | Schwimmlehrer | monitor de natación | 游泳教练
lifeguard | Rettungsschwimmer | socorrista | 救生员
sports coach | Sporttrainer | entrenador deportivo | 体育教练
professional athlete | Profisportler | deportista profesional | 职业运动员
nanny | Kindermädchen | niñera | 保姆
babysitter | Babysitter | canguro | 临时保姆
housekeeper in a private home | Haushälterin | empleada del hogar | 家政服务员
gardener | Gärtner | jardinero | 园丁
landscape gardener | Garten- und Landschaftsbauer | jardinero paisajista | 园林绿化工
dog groomer | Hundefriseur | peluquero canino | 宠物美容师
pet sitter | Tiersitter | cuidador de mascotas | 宠物看护员
animal keeper | Tierpfleger | cuidador de animales | 动物饲养员
funeral director | Bestatter | director de funeraria | 殡葬师
tattoo artist | Tätowierer | tatuador | 纹身师
flight attendant | Flugbegleiter | auxiliar de vuelo | 空乘人员
cabin crew manager | Purser | sobrecargo | 乘务长
cruise ship steward | Steward auf einem Kreuzfahrtschiff | camarero de crucero | 邮轮服务员
casino dealer | Croupier | crupier | 赌场荷官
cinema projectionist | Filmvorführer | proyeccionista de cine | 电影放映员
ticket seller | Kartenverkäufer | taquillero | 售票员
usher | Platzanweiser | acomodador | 引座员
wedding planner | Hochzeitsplaner | organizador de bodas | 婚礼策划师
`;
